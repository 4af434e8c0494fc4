import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { type EntourageEvent, parseEvent } from "../core/index.ts";
import { rootSpanIdOf, runSpans, type TraceSpan, traceIdOf } from "./spans.ts";

/**
 * The span derivation on event logs recorded from real runs (the built CLI against the fake model server;
 * test/telemetry/fixtures/README.md says how): the demo's pipeline run, and a run whose model went down.
 */
const fixture = (name: string): EntourageEvent[] =>
  readFileSync(new URL(`../../test/telemetry/fixtures/${name}.jsonl`, import.meta.url), "utf8")
    .trim()
    .split("\n")
    .map((line) => parseEvent(JSON.parse(line)));

const pipeline = fixture("pipeline-run");
const modelDown = fixture("model-down-run");

const childrenOf = (spans: TraceSpan[], parent: TraceSpan | undefined) =>
  spans.filter((s) => s.parentSpanId === parent?.spanId);
const named = (spans: TraceSpan[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));

describe("runSpans on a recorded pipeline run", () => {
  const spans = runSpans(pipeline);
  const runId = pipeline[0]!.runId;
  const root = spans.find((s) => !s.parentSpanId)!;

  it("derives the same spans every time, with ids hashed from the run and its events", () => {
    assert.deepEqual(runSpans(pipeline), spans);
    assert.ok(spans.every((s) => s.traceId === traceIdOf(runId)));
    assert.match(traceIdOf(runId), /^[0-9a-f]{32}$/);
    assert.equal(root.spanId, rootSpanIdOf(runId));
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length);
    assert.ok(spans.every((s) => /^[0-9a-f]{16}$/.test(s.spanId)));
  });

  it("is a tree: the workflow, the orchestrator, its eight agents in order, then their calls", () => {
    assert.equal(spans.filter((s) => !s.parentSpanId).length, 1);
    assert.equal(root.name, "invoke_workflow pipeline");
    assert.equal(root.attributes["gen_ai.workflow.name"], "pipeline");
    assert.equal(root.startMs, pipeline[0]!.time);
    assert.equal(root.endMs, pipeline.at(-1)!.time);
    const [orchestrator, verification] = childrenOf(spans, root);
    assert.equal(orchestrator?.name, "invoke_agent pipeline");
    assert.equal(verification?.name, "entourage.verification");
    assert.deepEqual(
      childrenOf(spans, orchestrator).map((s) => s.name),
      [
        "analyzer",
        "implementer",
        "implementer",
        "tester",
        "implementer",
        "tester",
        "refactorer",
        "tester",
      ].map((n) => `invoke_agent ${n}`),
    );
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const s of spans) {
      const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
      if (s.parentSpanId) assert.ok(parent, `${s.name} has its parent`);
      if (parent)
        assert.ok(s.startMs >= parent.startMs && s.endMs <= parent.endMs, `${s.name} within ${parent.name}`);
    }
  });

  it("one chat span per model call, with the usage and finish reason the log recorded", () => {
    const responses = pipeline.filter((e) => e.type === "llm.response");
    const chats = named(spans, "chat ");
    assert.equal(chats.length, responses.length);
    chats.forEach((chat, i) => {
      const r = responses[i]!;
      assert.equal(chat.kind, "client");
      assert.equal(chat.name, "chat fake-coder");
      assert.equal(chat.endMs, r.time);
      assert.equal(chat.attributes["gen_ai.usage.input_tokens"], r.data.usage.inputTokens);
      assert.equal(chat.attributes["gen_ai.usage.output_tokens"], r.data.usage.outputTokens);
      assert.deepEqual(chat.attributes["gen_ai.response.finish_reasons"], ["tool_calls"]);
      assert.equal(chat.attributes["gen_ai.provider.name"], "openai");
      assert.equal(chat.attributes["entourage.model.provider"], "openai-compatible");
      assert.equal(chat.attributes["server.address"], "127.0.0.1");
    });
    const agents = named(spans, "invoke_agent ").filter((s) => s.name !== "invoke_agent pipeline");
    const total = responses.reduce((n, r) => n + r.data.usage.inputTokens, 0);
    assert.equal(
      agents.reduce((n, a) => n + Number(a.attributes["gen_ai.usage.input_tokens"]), 0),
      total,
    );
    assert.equal(root.attributes["gen_ai.usage.input_tokens"], total);
  });

  it("tool spans: every call, under its agent; the failing npm test is an error, the passing ones are not", () => {
    const requested = pipeline.filter((e) => e.type === "tool.call.requested");
    const tools = named(spans, "execute_tool ");
    assert.deepEqual(
      tools.map((t) => t.attributes["gen_ai.tool.call.id"]),
      requested.map((e) => e.data.callId),
    );
    const commands = tools.filter((t) => t.attributes["gen_ai.tool.name"] === "run_command");
    assert.deepEqual(
      commands.map((c) => [c.attributes["process.exit.code"], c.status?.code, c.attributes["error.type"]]),
      [
        [1, "error", "exit_code"],
        [0, undefined, undefined],
        [0, undefined, undefined],
      ],
    );
    assert.ok(commands.every((c) => byName(spans, c.parentSpanId) === "invoke_agent tester"));
  });

  it("the verification the run reused is a span with the seq it reused; the run succeeded: no error", () => {
    const verification = spans.find((s) => s.name === "entourage.verification")!;
    assert.equal(verification.attributes["entourage.verification.status"], "passed");
    assert.equal(verification.attributes["entourage.verification.reused_seq"], 145);
    assert.equal(root.attributes["entourage.run.status"], "succeeded");
    assert.equal(spans.filter((s) => s.status).length, 1, "only the failing test command is an error");
  });

  it("copies no content: no task, prompt, argument or output", () => {
    const text = JSON.stringify(spans);
    for (const content of ["Fix the failing tests", "formatISODate", "TAP version", "getUTCMonth"])
      assert.ok(!text.includes(content), content);
  });

  it("a run still going (the log up to a command in flight): open spans end at the last event, marked incomplete", () => {
    const cut = pipeline.findIndex((e) => e.type === "tool.call.started" && e.data.name === "run_command");
    const partial = runSpans(pipeline.slice(0, cut + 1));
    const open = partial.filter((s) => s.attributes["entourage.incomplete"] === true);
    assert.deepEqual(
      open.map((s) => s.name),
      [
        "invoke_workflow pipeline",
        "invoke_agent pipeline",
        "invoke_agent tester",
        "execute_tool run_command",
      ],
    );
    assert.ok(open.every((s) => s.endMs === pipeline[cut]!.time && !s.status));
    // The spans that had ended keep their ids: a later export of the whole log is the same trace.
    const full = new Map(spans.map((s) => [s.spanId, s.name]));
    assert.ok(partial.every((s) => full.get(s.spanId) === s.name));
  });
});

function byName(spans: TraceSpan[], spanId: string | undefined): string | undefined {
  return spans.find((s) => s.spanId === spanId)?.name;
}

describe("runSpans on a recorded run whose model went down", () => {
  const spans = runSpans(modelDown);
  const root = spans.find((s) => !s.parentSpanId)!;
  const finished = modelDown.at(-1)!;

  it("the run, its agent and the model call that never answered are errors with the run's error code", () => {
    assert.equal(finished.type, "run.finished");
    assert.equal(root.status?.code, "error");
    assert.equal(root.attributes["error.type"], "model_unavailable");
    assert.match(root.status?.message ?? "", /did not answer after 6 attempts/);
    const agent = spans.find((s) => s.name === "invoke_agent general")!;
    assert.equal(agent.attributes["error.type"], "model_unavailable");
    const chats = named(spans, "chat ");
    assert.deepEqual(
      chats.map((c) => c.attributes["error.type"]),
      [undefined, undefined, "model_unavailable"],
    );
    const last = chats.at(-1)!;
    assert.equal(last.endMs, finished.time);
    assert.equal(last.attributes["entourage.llm.attempts"], 6);
    assert.deepEqual(
      last.events.map((e) => [e.name, e.attributes["http.response.status_code"]]),
      Array(5).fill(["llm.retry", 503]),
    );
    assert.equal(last.attributes["gen_ai.usage.input_tokens"], undefined, "no usage: no answer");
  });

  it("a tool call the model got an error back from is an error span", () => {
    const reads = spans.filter((s) => s.name === "execute_tool read_file");
    assert.deepEqual(
      reads.map((r) => r.attributes["error.type"]),
      [undefined, "tool_error"],
    );
  });
});

describe("runSpans on a recorded dynamic run (parallel delegations)", () => {
  const events = fixture("dynamic-run");
  const spans = runSpans(events);

  it("each delegated agent is a child of the delegate call that started it, with its own calls", () => {
    const delegates = spans.filter((s) => s.name === "execute_tool delegate");
    assert.deepEqual(
      delegates.map((d) => childrenOf(spans, d).map((a) => a.attributes["entourage.agent.phase"])),
      delegates.map((d) => {
        const callId = d.attributes["gen_ai.tool.call.id"];
        return events
          .filter((e) => e.type === "agent.started" && e.data.phase?.startsWith(`delegate:${callId}:`))
          .map((e) => (e.type === "agent.started" ? e.data.phase : undefined));
      }),
    );
    assert.deepEqual(
      delegates.map((d) => childrenOf(spans, d).length),
      [2, 1, 2],
    );
    for (const agent of delegates.flatMap((d) => childrenOf(spans, d))) {
      const agentId = agent.attributes["gen_ai.agent.id"];
      const steps = events.filter((e) => e.type === "llm.response" && e.agentId === agentId).length;
      assert.ok(steps > 0);
      assert.equal(named(childrenOf(spans, agent), "chat ").length, steps, `${agent.name} ${agentId}`);
    }
  });
});

describe("runSpans on a recorded run that asked before each command (--ask run_command --yes)", () => {
  const events = fixture("approval-run");
  const spans = runSpans(events);

  it("each approval is a pair of span events on the tool call it was about", () => {
    const asked = events.filter((e) => e.type === "approval.requested");
    assert.equal(asked.length, 2);
    for (const request of asked) {
      if (request.type !== "approval.requested") continue;
      const tool = spans.find((s) => s.attributes["gen_ai.tool.call.id"] === request.data.callId)!;
      assert.equal(tool.name, "execute_tool run_command");
      assert.deepEqual(
        tool.events.map((e) => [e.name, e.attributes["entourage.approval.decision"]]),
        [
          ["approval.requested", undefined],
          ["approval.resolved", "approve"],
          ["tool.call.started", undefined],
        ],
      );
      assert.equal(tool.events[1]?.attributes["entourage.approval.by"], "--yes");
    }
  });
});
