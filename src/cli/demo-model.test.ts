import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModelPart, ModelRequest } from "../llm/index.ts";
import { createScriptedDemoModel } from "./demo-model.ts";

const tool = (name: string) => ({ name, description: name, inputSchema: {} });

async function toolCalls(parts: AsyncIterable<ModelPart>): Promise<string[]> {
  const names: string[] = [];
  for await (const p of parts) if (p.type === "tool-call") names.push(p.name);
  return names;
}

test("a plan sent back at the checkpoint is proposed again, and the script then goes on", async () => {
  // Turn 2 of demo/pipeline.scenario.json is the plan; start there, as a run does after the analyzer.
  const model = createScriptedDemoModel(2);
  const planner: ModelRequest = {
    system: "planner",
    messages: [{ role: "user", content: "Propose the plan with propose_plan." }],
    tools: [tool("propose_plan")],
  };
  assert.deepEqual(await toolCalls(model.stream(planner)), ["propose_plan"]);
  // Sent back: the planner is asked again; the script has no second plan, so it replays its one plan.
  const again = {
    ...planner,
    messages: [
      {
        role: "user" as const,
        content: "The user sent your previous plan back: shorter. Propose a better plan.",
      },
    ],
  };
  const parts: ModelPart[] = [];
  for await (const p of model.stream(again)) parts.push(p);
  assert.deepEqual(
    parts.filter((p) => p.type === "tool-call").map((p) => p.type === "tool-call" && p.name),
    ["propose_plan"],
  );
  assert.match(
    parts
      .filter((p) => p.type === "text-delta")
      .map((p) => (p.type === "text-delta" ? p.text : ""))
      .join(""),
    /a script cannot rewrite its plan/,
  );
  // Approved: the implementer's turn comes next, as scripted.
  const implementer: ModelRequest = {
    system: "implementer",
    messages: [{ role: "user", content: "The approved plan: …" }],
    tools: [tool("edit_file"), tool("finish")],
  };
  assert.deepEqual(await toolCalls(model.stream(implementer)), ["edit_file"]);
});
