import assert from "node:assert/strict";
import { test } from "node:test";
import { AbortedError, SystemError } from "../core/index.ts";
import type { ModelPart, ModelRequest } from "./model.ts";
import { createScriptedModel } from "./scripted.ts";

const request: ModelRequest = { system: "sys", messages: [{ role: "user", content: "go" }], tools: [] };

async function collect(parts: AsyncIterable<ModelPart>) {
  const out: ModelPart[] = [];
  for await (const p of parts) out.push(p);
  return out;
}

test("replays its script turn by turn and says it is scripted", async () => {
  const model = createScriptedModel({
    turns: [
      {
        reasoning: "Look first.",
        text: "Reading the file.",
        toolCalls: [{ name: "read_file", arguments: { path: "a" } }],
      },
      (req) => ({
        text: `Seen ${req.messages.length} messages.`,
        usage: { inputTokens: 7, outputTokens: 3 },
      }),
    ],
  });
  assert.equal(model.provider, "scripted");
  assert.equal(model.scripted, true);

  const first = await collect(model.stream(request));
  assert.equal(
    first
      .filter((p) => p.type === "text-delta")
      .map((p) => p.text)
      .join(""),
    "Reading the file.",
  );
  assert.ok(first.filter((p) => p.type === "text-delta").length > 1, "text arrives as several deltas");
  assert.equal(
    first
      .filter((p) => p.type === "reasoning-delta")
      .map((p) => p.text)
      .join(""),
    "Look first.",
  );
  assert.deepEqual(
    first.find((p) => p.type === "tool-call"),
    {
      type: "tool-call",
      id: "call_0_0",
      name: "read_file",
      args: { path: "a" },
    },
  );
  assert.deepEqual(first.at(-1), { type: "finish", reason: "tool-calls" });
  assert.ok(
    (first.find((p) => p.type === "usage") as { usage: { inputTokens: number } }).usage.inputTokens > 0,
  );

  const second = await collect(
    model.stream({ ...request, messages: [...request.messages, { role: "user", content: "more" }] }),
  );
  assert.equal(
    second
      .filter((p) => p.type === "text-delta")
      .map((p) => p.text)
      .join(""),
    "Seen 2 messages.",
  );
  assert.deepEqual(second.slice(-2), [
    { type: "usage", usage: { inputTokens: 7, outputTokens: 3 } },
    { type: "finish", reason: "stop" },
  ]);
  assert.equal(model.remainingTurns(), 0);
  await assert.rejects(
    collect(model.stream(request)),
    (e: unknown) => SystemError.isInstance(e) && e.code === "script_exhausted",
  );
});

test("malformed scripted arguments yield argsError like a real model's", async () => {
  const model = createScriptedModel({
    turns: [{ toolCalls: [{ name: "edit_file", argumentsText: "{oops" }] }],
  });
  const call = (await collect(model.stream(request))).find((p) => p.type === "tool-call");
  assert.equal(call?.type === "tool-call" && call.args, "{oops");
  assert.match(call?.type === "tool-call" ? (call.argsError ?? "") : "", /not valid JSON/);
});

test("an aborted signal stops the scripted model", async () => {
  const controller = new AbortController();
  controller.abort();
  const model = createScriptedModel({ turns: [{ text: "x" }] });
  await assert.rejects(collect(model.stream({ ...request, signal: controller.signal })), (e: unknown) =>
    AbortedError.isInstance(e),
  );
});

test("a paced script waits before each turn, and an abort ends the wait at once", async () => {
  // An hour per turn: only the abort can end this call, so the test passes only if the wait is abortable.
  const model = createScriptedModel({
    turns: [{ text: "never shown" }],
    pace: { turnMs: 3_600_000, chunkMs: 10 },
  });
  const controller = new AbortController();
  const parts = collect(model.stream({ ...request, signal: controller.signal }));
  controller.abort(new Error("stop"));
  await assert.rejects(parts, (error) => AbortedError.isInstance(error));
});

test("a paced script streams the same parts as an unpaced one", async () => {
  const turn = { text: "one two three", toolCalls: [{ name: "finish", arguments: {} }] };
  const paced = await collect(
    createScriptedModel({ turns: [turn], pace: { turnMs: 1, chunkMs: 1 } }).stream(request),
  );
  const plain = await collect(createScriptedModel({ turns: [turn] }).stream(request));
  assert.deepEqual(paced, plain);
});
