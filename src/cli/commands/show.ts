import { foldRun, UserError } from "../../core/index.ts";
import { describeDriver, runDriver } from "../../store/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";
import { TerminalRenderer } from "../terminal/render.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/** `entourage show`: a run's events, as the live view printed them, or JSONL. */
export async function showCommand(runId: string, opts: { json?: boolean; full?: boolean }): Promise<number> {
  try {
    const store = await openStore();
    try {
      const events = await store.read(runId);
      if (events.length === 0)
        throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
      if (opts.json) {
        process.stdout.write(`${events.map((e) => JSON.stringify(e)).join("\n")}\n`);
        return 0;
      }
      const out: string[] = [];
      const style = makeStyle(colorEnabled(process.stdout));
      const renderer = new TerminalRenderer((line) => out.push(line), style, {
        outputLines: opts.full ? Number.POSITIVE_INFINITY : undefined,
      });
      for (const event of events) renderer.render(event);
      renderer.end();
      const { driver, interrupted } = await runDriver(store, runId, foldRun(runId, events).status);
      if (interrupted)
        out.push(
          style.red(
            `⚠ interrupted: the process that drove this run is gone; nothing is lost. Continue with: entourage resume ${runId}\n`,
          ),
        );
      else if (driver)
        out.push(
          style.dim(`driven now by ${describeDriver(driver)}; watch it live: entourage attach ${runId}\n`),
        );
      process.stdout.write(out.join(""));
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}
