import { writeFile } from "node:fs/promises";
import path from "node:path";
import { errorMessage, type OrchestrationMode, type SandboxBackendName } from "../../core/index.ts";
import { openStore } from "../compose.ts";
import { makeEvalDir, newEvalId, runTasks } from "../eval/harness.ts";
import { type EvalReport, formatTable, totalsOf } from "../eval/report.ts";
import { readTaskFile } from "../eval/task-file.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { abortOnSignals } from "../terminal/live.ts";
import { runOptionsOf } from "./run-flags.ts";

export interface EvalFlags {
  concurrency: number;
  provider?: string;
  model?: string;
  baseUrl?: string;
  mode?: OrchestrationMode;
  sandbox?: SandboxBackendName;
  image?: string;
  testCommand?: string;
  setup?: string;
  setupNetwork?: boolean;
  maxSteps?: number;
  maxTokens?: number;
  maxCost?: number;
  json?: boolean;
  out?: string;
}

/**
 * `entourage eval TASKS`: runs each task of the file in a sandbox, judges each run's change with the task's
 * tests, and prints the table (or JSON). Exit 0 when every task was run and judged, resolved or not; 1 when
 * the harness could not run or judge one (invalid task, clone or sandbox failure, a run that crashed); 2 for
 * a bad task file or flags; 130/143 when stopped by a signal (the runs in flight stay resumable).
 */
export async function evalCommand(file: string, flags: EvalFlags): Promise<number> {
  try {
    const taskFile = await readTaskFile(file, { testCommand: flags.testCommand });
    for (const warning of taskFile.warnings) process.stderr.write(`warning: ${warning}\n`);
    const evalId = newEvalId();
    const dir = await makeEvalDir(evalId);
    const store = await openStore();
    const signals = abortOnSignals();
    const startedAt = new Date();
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    progress(
      `eval ${evalId}: ${taskFile.tasks.length} task(s) from ${taskFile.file}, ${flags.concurrency} at a time`,
    );
    try {
      const tasks = await runTasks({
        evalId,
        tasks: taskFile.tasks,
        // --test-command is the judge's template, not the runs' own test command.
        run: runOptionsOf({ ...flags, testCommand: undefined }),
        concurrency: flags.concurrency,
        store,
        signal: signals.signal,
        progress,
      });
      const finishedAt = new Date();
      const report: EvalReport = {
        evalId,
        taskFile: taskFile.file,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        concurrency: flags.concurrency,
        dir,
        tasks,
        totals: totalsOf(tasks, finishedAt.getTime() - startedAt.getTime()),
      };
      const json = `${JSON.stringify(report, null, 2)}\n`;
      await writeFile(path.join(dir, "results.json"), json, { mode: 0o600 });
      if (flags.out) await writeFile(flags.out, json);
      process.stdout.write(flags.json ? json : formatTable(report));
      if (signals.received()) return signals.received() === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
      return report.totals.errors > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      signals.dispose();
      await store.close().catch((error: unknown) => {
        process.stderr.write(`entourage: closing the store failed: ${errorMessage(error)}\n`);
      });
    }
  } catch (error) {
    return reportError(error);
  }
}
