import { createInterface } from "node:readline/promises";
import { type EntourageEvent, type RunState, UserError } from "../core/index.ts";
import type { Approver } from "../orchestrator/index.ts";
import { approveAll, describeRule, mainArgument } from "../orchestrator/index.ts";
import type { EventStore } from "../store/index.ts";
import { EXIT } from "./main.ts";
import { describeArgs, TerminalRenderer } from "./render.ts";
import { colorEnabled, makeStyle } from "./style.ts";

/** Prints a run's events as they are written: the live terminal view, or JSONL with `--json`. */
export function attachView(store: EventStore, runId: string, json: boolean): () => void {
  if (json) {
    return store.subscribe(runId, (event) => {
      process.stdout.write(`${JSON.stringify(event)}\n`);
    });
  }
  const renderer = new TerminalRenderer(
    (s) => process.stdout.write(s),
    makeStyle(colorEnabled(process.stdout)),
  );
  const unsubscribe = store.subscribe(runId, (event: EntourageEvent) => renderer.render(event));
  return () => {
    unsubscribe();
    renderer.end();
  };
}

/**
 * The approver for a terminal run: `--yes` approves everything; a TTY gets an inline prompt; with neither,
 * the run cannot get an answer and stops with a message saying how to run non-interactively.
 */
export function terminalApprover(yes: boolean): Approver {
  if (yes) return approveAll;
  if (!process.stdin.isTTY) {
    return async (request) => {
      throw new UserError(
        "approval_unanswerable",
        `${request.tool} needs approval (${request.reason}), but stdin is not a terminal and --yes was not given. ` +
          "Re-run with --yes to approve every call, or --approval auto.",
      );
    };
  }
  return async (request, signal) => {
    const s = makeStyle(colorEnabled(process.stdout));
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const what =
        request.tool === "plan"
          ? "the plan above"
          : `${s.bold(request.tool)} ${describeArgs(request.tool, request.args)}`;
      const question = `${s.yellow("?")} allow ${what} ${s.dim(`[${request.risk}]`)}  [y]es / [n]o / [a]lways: `;
      for (;;) {
        const answer = (await rl.question(`\n${question}`, { signal })).trim().toLowerCase();
        if (answer === "y" || answer === "yes") return { decision: "approve", by: "cli" };
        if (answer === "n" || answer === "no") {
          const reason = (await rl.question("  reason for the agent (optional): ", { signal })).trim();
          return { decision: "deny", by: "cli", reason: reason || undefined };
        }
        if ((answer === "a" || answer === "always") && request.tool !== "plan") {
          const rule = { tool: request.tool, match: mainArgument(request.args), action: "allow" as const };
          const ok = (
            await rl.question(
              `  save the rule ${s.bold(describeRule(rule))} to the project's .entourage/config.json? [y/n]: `,
              { signal },
            )
          )
            .trim()
            .toLowerCase();
          if (ok === "y" || ok === "yes") return { decision: "approve", by: "cli", rule };
        }
      }
    } finally {
      rl.close();
    }
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
