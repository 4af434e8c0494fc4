import { SystemError } from "../../../core/index.ts";
import type { ExecResult } from "../../sandbox.ts";

/** What every backend refuses before running anything: a destroyed sandbox, an empty command. */
export function assertCanExec(destroyed: boolean, argv: readonly string[]): void {
  if (destroyed) throw new SystemError("sandbox_destroyed", "This sandbox was destroyed; create a new one.");
  if (argv.length === 0 || argv[0] === "") {
    throw new SystemError("sandbox_argv", "exec needs a command (argv is empty).");
  }
}

/** The result of a command whose abort signal fired before it started: killed, nothing ran. */
export function abortedBeforeStart(): ExecResult {
  return { exitCode: 137, timedOut: false, killed: true, output: "", outputTruncated: false, durationMs: 0 };
}
