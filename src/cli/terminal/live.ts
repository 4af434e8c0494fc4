import { type EntourageEvent, type RunState, UserError } from "../../core/index.ts";
import type { Approver } from "../../orchestrator/index.ts";
import { approveAll } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { EXIT } from "./exit.ts";
import { TerminalRenderer } from "./render.ts";
import { colorEnabled, makeStyle } from "./style.ts";

/**
 * Where the live view writes: stdout, or through the steering console while one reads the terminal (so an
 * open approval question is drawn again below new output). Process-wide, like stdout itself.
 */
export const liveOutput = {
  through: undefined as ((text: string) => void) | undefined,
  write(text: string): void {
    if (liveOutput.through) liveOutput.through(text);
    else process.stdout.write(text);
  },
};

/** Prints a run's events as they are written: the live terminal view, or JSONL with `--json`. */
export function attachView(store: EventStore, runId: string, json: boolean): () => void {
  if (json) {
    return store.subscribe(runId, (event) => {
      process.stdout.write(`${JSON.stringify(event)}\n`);
    });
  }
  const renderer = new TerminalRenderer(liveOutput.write, makeStyle(colorEnabled(process.stdout)));
  const unsubscribe = store.subscribe(runId, (event: EntourageEvent) => renderer.render(event));
  return () => {
    unsubscribe();
    renderer.end();
  };
}

/**
 * The approver when no terminal prompt can answer (no TTY, or --json): `--yes` approves everything;
 * otherwise this gives up, and the run waits for an answer over its API if it serves one (RunControl
 * keeps waiting while remote clients can answer) or stops with a message saying how to run unattended.
 * On a TTY the steering console asks instead.
 */
export function unattendedApprover(yes: boolean): Approver {
  if (yes) return approveAll;
  return async (request) => {
    throw new UserError(
      "approval_unanswerable",
      `${request.tool} needs approval (${request.reason}), but no terminal can answer and --yes was not given. ` +
        "Re-run with --yes to approve every call, or --approval auto.",
    );
  };
}

/** Exit code of a run by its final state. */
export function exitCodeOf(state: RunState): number {
  if (state.status === "succeeded") return EXIT.ok;
  if (state.status === "paused") return EXIT.sigint;
  return EXIT.failed;
}

/**
 * Wires SIGINT/SIGTERM to an AbortController: the first signal stops the run cleanly (its log stays
 * resumable); a second one exits at once.
 */
export function abortOnSignals(): {
  signal: AbortSignal;
  received: () => NodeJS.Signals | undefined;
  dispose: () => void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (received) process.exit(sig === "SIGINT" ? EXIT.sigint : EXIT.sigterm);
    received = sig;
    process.stderr.write(`\n${sig}: stopping the run (press again to exit at once)…\n`);
    controller.abort(new Error(sig));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
