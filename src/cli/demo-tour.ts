import type { EntourageEvent } from "../core/index.ts";
import { mainArgument, PLAN_APPROVAL_TOOL } from "../core/index.ts";
import type { ScriptPace } from "../llm/index.ts";
import type { RunGuide } from "./commands/run.ts";
import type { Style } from "./terminal/style.ts";

/**
 * How slowly the tour's script plays: long enough between steps to read what happened and type a
 * message or /pause, short enough that the whole tour takes well under a minute.
 */
export const TOUR_PACE: ScriptPace = { turnMs: 1_200, chunkMs: 50 };

/**
 * `entourage demo` on a terminal: a guided tour of one run. It introduces the run, says at each stop what
 * the person can do (the plan checkpoint, the first command, a pause), and once the first command is
 * approved allows that same command for the rest of the run (said on screen), so the tour stops twice,
 * not at every test run. The stops themselves are the run's real approval questions.
 */
export function demoTour(style: Style): RunGuide {
  return {
    start({ store, runId, control, dashboardUrl, write }) {
      const hint = (text: string) => write(`${style.cyan("→")} ${text}\n`);
      write(
        [
          style.bold("guided tour") +
            " — the model is a script (not an LLM), slowed down so you can step in:",
          "  · it stops at the plan and before its first command, for your answer",
          "  · while it works, type a message + Enter (the agent reads it at its next step), /pause, /resume",
          dashboardUrl
            ? "  · open the dashboard link above while it runs: the same run, to watch and steer from your browser"
            : "  · (no dashboard: the API server is off)",
          "",
        ].join("\n"),
      );
      let firstCommand: { approvalId: string; command: string } | undefined;
      let messaged = false;
      return store.subscribe(runId, (event: EntourageEvent) => {
        switch (event.type) {
          case "approval.requested": {
            const d = event.data;
            if (d.tool === PLAN_APPROVAL_TOOL) {
              hint(
                "the plan waits for you: [y]es approves it, [n]o with a reason sends it back (the script then proposes it again)",
              );
            } else if (d.tool === "run_command" && firstCommand === undefined) {
              firstCommand = { approvalId: d.approvalId, command: mainArgument(d.args) };
              hint(
                `the first command waits for you: [y]es runs ${style.bold(firstCommand.command)} in the sandbox, [n]o with a reason refuses it`,
              );
            }
            return;
          }
          case "approval.resolved": {
            // The first command approved (here or on the dashboard): the same command is allowed from now on,
            // by a rule for this run only (never saved), so the tour does not ask at every test run.
            if (event.data.approvalId !== firstCommand?.approvalId || event.data.decision !== "approve")
              return;
            const { command } = firstCommand;
            control.learnedRules.push({ tool: "run_command", match: command, action: "allow" });
            hint(
              `the demo now allows ${style.bold(command)} for the rest of this run; a real run asks each time unless you answer [a]lways`,
            );
            return;
          }
          case "intervention.received":
            if (messaged) return;
            messaged = true;
            hint('your message waits for the agent\'s next step; "delivered" says when it read it');
            return;
          case "run.paused":
            hint("paused: the agents wait before their next step; /resume goes on, /cancel ends the run");
            return;
        }
      });
    },
  };
}
