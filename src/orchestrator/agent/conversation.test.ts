import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EntourageEvent, NewEvent } from "../../core/index.ts";
import { agentHistory } from "./conversation.ts";

/** Builds a log by hand: the envelope fields as a store would assign them. */
function log(events: NewEvent[]): EntourageEvent[] {
  return events.map(
    (e, seq) => ({ ...e, id: `evt_${seq}`, runId: "run_1", seq, time: 1_000 + seq, v: 1 }) as EntourageEvent,
  );
}

const usage = { inputTokens: 10, outputTokens: 5 };
const A = "agt_a";
const B = "agt_b";

function started(agentId: string, task: string): NewEvent {
  return {
    type: "agent.started",
    agentId,
    data: { name: "general", role: "r", task, model: "scripted/s", tools: [] },
  };
}
function stepEnded(agentId: string, step: number, text: string, calls: string[]): NewEvent {
  return {
    type: "agent.step.ended",
    agentId,
    data: {
      step,
      text,
      toolCalls: calls.map((id) => ({ id, name: "run_command", args: { command: `echo ${id}` } })),
      finishReason: calls.length ? "tool-calls" : "stop",
      usage,
    },
  };
}
function ended(agentId: string, callId: string, output: string, isError = false): NewEvent {
  return {
    type: "tool.call.ended",
    agentId,
    data: { callId, name: "run_command", output, isError, durationMs: 1 },
  };
}

describe("agentHistory", () => {
  it("rebuilds the conversation: task, assistant turns, tool results per turn, delivered messages", () => {
    const events = log([
      { type: "run.status", data: { status: "running" } },
      started(A, "Fix the tests"),
      { type: "agent.step.started", agentId: A, data: { step: 1 } },
      { type: "agent.text.delta", agentId: A, data: { step: 1, text: "Looking" } },
      stepEnded(A, 1, "Looking.", ["c1", "c2"]),
      {
        type: "tool.call.requested",
        agentId: A,
        data: { callId: "c1", name: "run_command", args: {}, risk: "execute", step: 1 },
      },
      ended(A, "c1", "one"),
      ended(A, "c2", "boom", true),
      {
        type: "intervention.received",
        data: { interventionId: "int_1", message: "use pnpm", interrupt: false, by: "cli" },
      },
      {
        type: "intervention.received",
        data: { interventionId: "int_2", message: "never delivered", interrupt: false, by: "cli" },
      },
      { type: "intervention.delivered", agentId: A, data: { interventionId: "int_1", agentId: A, step: 2 } },
      stepEnded(A, 2, "Now the fix.", ["c3"]),
      ended(A, "c3", "three"),
    ]);
    const history = agentHistory(A, events);
    assert.deepEqual(history.messages, [
      { role: "user", content: "Fix the tests" },
      {
        role: "assistant",
        text: "Looking.",
        toolCalls: [
          { id: "c1", name: "run_command", args: { command: "echo c1" } },
          { id: "c2", name: "run_command", args: { command: "echo c2" } },
        ],
      },
      {
        role: "tool",
        results: [
          { callId: "c1", name: "run_command", output: "one", isError: false },
          { callId: "c2", name: "run_command", output: "boom", isError: true },
        ],
      },
      { role: "user", content: "[Message from the user] use pnpm" },
      {
        role: "assistant",
        text: "Now the fix.",
        toolCalls: [{ id: "c3", name: "run_command", args: { command: "echo c3" } }],
      },
      { role: "tool", results: [{ callId: "c3", name: "run_command", output: "three", isError: false }] },
    ]);
    assert.equal(history.lastStep, 2);
    assert.equal(history.lastTurn?.text, "Now the fix.");
    assert.equal(history.finished, false);
  });

  it("ignores the events of other agents, even interleaved with its own", () => {
    const events = log([
      started(A, "task A"),
      started(B, "task B"),
      stepEnded(B, 1, "B speaks", ["b1"]),
      stepEnded(A, 1, "A speaks", ["a1"]),
      ended(B, "b1", "B's result"),
      ended(A, "a1", "A's result"),
      { type: "intervention.delivered", agentId: B, data: { interventionId: "int_1", agentId: B, step: 1 } },
      {
        type: "agent.finished",
        agentId: B,
        data: { name: "b", reason: "finish", report: { status: "done", summary: "", filesChanged: [] } },
      },
    ]);
    const history = agentHistory(A, events);
    assert.deepEqual(
      history.messages.map((m) =>
        m.role === "user" ? m.content : m.role === "assistant" ? m.text : m.results.map((r) => r.output),
      ),
      ["task A", "A speaks", ["A's result"]],
    );
    assert.equal(history.finished, false, "another agent finishing does not finish this one");
    assert.deepEqual([...history.ended], ["a1"]);
  });

  it("tracks which calls of the last turn were requested, started and ended (for resume)", () => {
    const events = log([
      started(A, "t"),
      stepEnded(A, 1, "", ["c1", "c2", "c3"]),
      {
        type: "tool.call.requested",
        agentId: A,
        data: { callId: "c1", name: "run_command", args: {}, risk: "execute", step: 1 },
      },
      { type: "tool.call.started", agentId: A, data: { callId: "c1", name: "run_command" } },
      ended(A, "c1", "done"),
      {
        type: "tool.call.requested",
        agentId: A,
        data: { callId: "c2", name: "run_command", args: {}, risk: "execute", step: 1 },
      },
      { type: "tool.call.started", agentId: A, data: { callId: "c2", name: "run_command" } },
    ]);
    const history = agentHistory(A, events);
    assert.deepEqual([...history.requested.keys()], ["c1", "c2"]);
    assert.deepEqual([...history.started], ["c1", "c2"]);
    assert.deepEqual([...history.ended], ["c1"]);
    assert.deepEqual(
      history.lastTurn?.toolCalls.map((c) => c.id),
      ["c1", "c2", "c3"],
    );
  });

  it("marks an agent finished by its own agent.finished and starts empty for an unknown agent", () => {
    const events = log([
      started(A, "t"),
      {
        type: "agent.finished",
        agentId: A,
        data: { name: "a", reason: "finish", report: { status: "done", summary: "ok", filesChanged: [] } },
      },
    ]);
    assert.equal(agentHistory(A, events).finished, true);
    const none = agentHistory("agt_missing", events);
    assert.deepEqual([none.messages, none.lastStep, none.finished], [[], 0, false]);
  });
});
