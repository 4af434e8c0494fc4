import { runDiff } from "../../orchestrator/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/** `entourage diff`: the change the run made, baseline → its latest checkpoint. */
export async function diffCommand(runId: string, opts: { stat?: boolean }): Promise<number> {
  try {
    const store = await openStore();
    const changes = await runDiff(store, runId).finally(() => store.close());
    if (opts.stat) {
      for (const f of changes.files) process.stdout.write(`${f.status.padEnd(9)} ${f.path}\n`);
      process.stdout.write(
        `${changes.files.length} files changed, ${changes.insertions} insertions(+), ${changes.deletions} deletions(-)\n`,
      );
      return 0;
    }
    const text = changes.diff;
    if (text === "") {
      process.stderr.write(`Run ${runId} changed nothing.\n`);
      return 0;
    }
    const s = makeStyle(colorEnabled(process.stdout));
    const painted = text
      .split("\n")
      .map((l) =>
        l.startsWith("+++") || l.startsWith("---")
          ? s.bold(l)
          : l.startsWith("+")
            ? s.green(l)
            : l.startsWith("-")
              ? s.red(l)
              : l.startsWith("@@")
                ? s.cyan(l)
                : l,
      )
      .join("\n");
    process.stdout.write(painted.endsWith("\n") ? painted : `${painted}\n`);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
