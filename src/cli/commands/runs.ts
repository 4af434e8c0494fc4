import { formatCost, formatDuration, formatTokens } from "../../core/format.ts";
import type { RunStatus } from "../../core/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/** What the TESTS column says: the orchestrator's own run of the test command on the final change. */
const VERIFIED = { passed: "passed", failed: "failed", not_verified: "not verified", none: "-" } as const;

/** `entourage runs`: the runs table, newest first. */
export async function runsCommand(opts: {
  status?: RunStatus;
  limit: number;
  json?: boolean;
}): Promise<number> {
  try {
    const store = await openStore();
    try {
      const runs = await store.listRuns({ status: opts.status, limit: opts.limit });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        return 0;
      }
      if (runs.length === 0) {
        process.stdout.write(
          opts.status
            ? `No ${opts.status} runs.\n`
            : 'No runs yet. Start one with: entourage run "<task>" --repo <dir>\n',
        );
        return 0;
      }
      const s = makeStyle(colorEnabled(process.stdout));
      const rows = runs.map((r) => [
        r.runId,
        r.interrupted ? "interrupted" : r.status,
        formatDuration(r.updatedAt - r.createdAt),
        `${formatTokens(r.inputTokens + r.outputTokens)}`,
        formatCost(r.costUsd, r.costKnown),
        VERIFIED[r.verification ?? "none"],
        r.task.replace(/\s+/g, " ").slice(0, 60),
      ]);
      const header = ["RUN", "STATUS", "DURATION", "TOKENS", "COST", "TESTS", "TASK"];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (cells: string[]) =>
        cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
      process.stdout.write(`${s.dim(fmt(header))}\n`);
      for (const row of rows) {
        const status = row[1]!;
        const paint =
          status === "succeeded"
            ? s.green
            : status === "failed" || status === "cancelled" || status === "interrupted"
              ? s.red
              : s.yellow;
        let line = fmt(row).replace(status.padEnd(widths[1]!), paint(status.padEnd(widths[1]!)));
        if (row[5] === VERIFIED.not_verified)
          line = line.replace(row[5].padEnd(widths[5]!), s.yellow(row[5].padEnd(widths[5]!)));
        process.stdout.write(`${line}\n`);
      }
      const interrupted = runs.filter((r) => r.interrupted);
      if (interrupted.length > 0) {
        const which = interrupted.length === 1 ? interrupted[0]!.runId : "<run>";
        process.stdout.write(
          s.dim(
            `\ninterrupted: the process that drove ${interrupted.length === 1 ? "it" : "them"} is gone; nothing is lost. Continue with: entourage resume ${which}\n`,
          ),
        );
      }
      const queued = runs.filter((r) => r.status === "queued" && !r.driver);
      if (queued.length > 0) {
        const which = queued.length === 1 ? queued[0]!.runId : "<run>";
        process.stdout.write(
          s.dim(
            `\nqueued: waiting for an \`entourage worker\` (team deployment), or stopped before it began: entourage resume ${which}\n`,
          ),
        );
      }
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}
