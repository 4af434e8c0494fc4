import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/index.ts";
import { packagePath } from "../core/package-files.ts";
import { createScriptedModel, type Model, type ScriptedTurn, type ScriptPace } from "../llm/index.ts";

const DEMO_DIR = packagePath("demo/");

/**
 * The demo's model: a script that replays demo/pipeline.scenario.json, one turn per model request, in
 * order. It is not an LLM and is labelled `scripted` everywhere. `startTurn` lets a resumed demo run go
 * on where it stopped (one turn per completed step); `pace` slows it down for the guided tour.
 *
 * A plan sent back at the checkpoint is asked for again (a request offering propose_plan when the script
 * has moved past its plan): a script cannot rewrite its plan, so it proposes the same one again and says so.
 */
export function createScriptedDemoModel(startTurn = 0, pace?: ScriptPace): Model {
  const scenario = JSON.parse(readFileSync(join(DEMO_DIR, "pipeline.scenario.json"), "utf8")) as {
    turns: (ScriptedTurn & { expectMessageContains?: string[] })[];
  };
  const turns = scenario.turns;
  const planTurn = turns.find((t) => t.toolCalls?.some((c) => c.name === "propose_plan"));
  let next = startTurn;
  // One step per script turn, and as many again for plans sent back (each one replays the plan turn).
  const steps = Array.from({ length: (turns.length - startTurn) * 2 });
  return createScriptedModel({
    id: "demo-pipeline",
    pace,
    turns: steps.map(() => (request) => {
      const asksForPlan = request.tools.some((t) => t.name === "propose_plan");
      if (planTurn && asksForPlan && turns[next] !== planTurn) {
        return {
          text: "(scripted demo: a script cannot rewrite its plan, so it proposes the same one again.)",
          toolCalls: planTurn.toolCalls,
          usage: planTurn.usage,
        };
      }
      const turn = turns[next++];
      if (!turn) throw new UserError("script_exhausted", "The demo script has no more turns.");
      // A script cannot read, but it must not claim what did not happen: if the tool results it expects
      // are missing (the tests do not behave as scripted on this machine), it stops and says so.
      const sent = JSON.stringify(request.messages);
      const missing = (turn.expectMessageContains ?? []).filter((text) => !sent.includes(text));
      if (missing.length > 0) {
        const expected = missing.map((m) => `"${m}"`).join(", ");
        return {
          text: `The demo script expected ${expected} in what it was sent and did not see it, so it stops here.`,
          toolCalls: [
            {
              name: "finish",
              arguments: {
                status: "failed",
                summary: `The scripted demo went off script: it expected ${expected}. The run's events show what the commands printed.`,
              },
            },
          ],
        };
      }
      return { text: turn.text, toolCalls: turn.toolCalls, usage: turn.usage };
    }),
  });
}
