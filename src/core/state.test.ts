import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EntourageEvent, NewEvent } from "./events/index.ts";
import { foldRun, isTerminal } from "./state.ts";

/** Builds a log by hand: the envelope fields as a store would assign them (time = 1000 + seq). */
function log(events: NewEvent[]): EntourageEvent[] {
  return events.map(
    (e, seq) => ({ ...e, id: `evt_${seq}`, runId: "run_1", seq, time: 1_000 + seq, v: 1 }) as EntourageEvent,
  );
}

const created: NewEvent = {
  type: "run.created",
  data: {
    task: "Fix the date parser",
    repo: "/home/u/repo",
    workspace: "/tmp/ws",
    mode: "single",
    model: { provider: "openai", model: "gpt-4.1" },
    sandbox: { backend: "bwrap", isolated: true, network: "off" },
    budget: { maxSteps: 10 },
    approval: "ask-risky",
  },
};
const status = (s: "queued" | "running" | "paused"): NewEvent => ({
  type: "run.status",
  data: { status: s },
});
const started = (agentId: string, name: string, parentAgentId?: string): NewEvent => ({
  type: "agent.started",
  agentId,
  data: { name, role: "r", task: `task of ${name}`, model: "openai/gpt-4.1", tools: [], parentAgentId },
});
const response = (agentId: string, input: number, output: number, costUsd?: number): NewEvent => ({
  type: "llm.response",
  agentId,
  data: {
    step: 1,
    usage: { inputTokens: input, outputTokens: output },
    costUsd,
    latencyMs: 5,
    finishReason: "stop",
  },
});
const requested = (agentId: string, callId: string): NewEvent => ({
  type: "tool.call.requested",
  agentId,
  data: { callId, name: "run_command", args: { command: `make ${callId}` }, risk: "execute", step: 1 },
});

describe("foldRun", () => {
  it("follows the run's status from created to finished, with summary, error and finish time", () => {
    const events = log([
      created,
      status("queued"),
      status("running"),
      status("paused"),
      status("running"),
      {
        type: "run.finished",
        data: { status: "failed", summary: "tests still fail", error: { code: "e", message: "m" } },
      },
    ]);
    const states = events.map((_, i) => foldRun("run_1", events.slice(0, i + 1)).status);
    assert.deepEqual(states, ["queued", "queued", "running", "paused", "running", "failed"]);
    const final = foldRun("run_1", events);
    assert.equal(final.task, "Fix the date parser");
    assert.equal(final.summary, "tests still fail");
    assert.deepEqual(final.error, { code: "e", message: "m" });
    assert.equal(final.createdAt, 1_000);
    assert.equal(final.finishedAt, 1_005);
    assert.equal(final.lastSeq, 5);
    assert.equal(isTerminal(final.status), true);
    assert.equal(isTerminal("paused"), false);
  });

  it("marks a run started by entourage eval with its eval and task, and no other run", () => {
    const evalRun = {
      ...created,
      data: { ...created.data, eval: { id: "eval_1", instanceId: "py-calc-add" } },
    };
    assert.deepEqual(foldRun("run_1", log([evalRun as NewEvent])).eval, {
      id: "eval_1",
      instanceId: "py-calc-add",
    });
    assert.equal(foldRun("run_1", log([created])).eval, undefined);
  });

  it("sums usage and cost over agents and keeps each agent's share", () => {
    const state = foldRun(
      "run_1",
      log([
        created,
        started("agt_1", "planner"),
        response("agt_1", 100, 20, 0.01),
        started("agt_2", "coder", "agt_1"),
        response("agt_2", 300, 50, 0.03),
        response("agt_2", 400, 60, 0.04),
      ]),
    );
    assert.deepEqual(state.usage, { inputTokens: 800, outputTokens: 130 });
    assert.ok(Math.abs(state.costUsd - 0.08) < 1e-12, `costUsd ${state.costUsd}`);
    assert.equal(state.costKnown, true);
    const coder = state.agents.find((a) => a.agentId === "agt_2");
    assert.deepEqual(coder?.usage, { inputTokens: 700, outputTokens: 110 });
    assert.ok(Math.abs((coder?.costUsd ?? 0) - 0.07) < 1e-12);
  });

  it("marks the cost unknown once one model step had no price, and still counts its tokens", () => {
    const state = foldRun(
      "run_1",
      log([created, started("agt_1", "g"), response("agt_1", 100, 10, 0.5), response("agt_1", 50, 5)]),
    );
    assert.equal(state.costKnown, false);
    assert.deepEqual(state.usage, { inputTokens: 150, outputTokens: 15 });
    assert.equal(state.costUsd, 0.5);
  });

  it("builds the agent tree with parents; the active agent returns to the parent when a child finishes", () => {
    const report = { status: "done" as const, summary: "done", filesChanged: ["a.ts"] };
    const events = log([
      created,
      started("agt_1", "planner"),
      { type: "agent.step.started", agentId: "agt_1", data: { step: 1 } },
      started("agt_2", "coder", "agt_1"),
      { type: "agent.step.started", agentId: "agt_2", data: { step: 1 } },
      { type: "agent.step.started", agentId: "agt_2", data: { step: 2 } },
      { type: "agent.finished", agentId: "agt_2", data: { name: "coder", reason: "finish", report } },
    ]);
    const beforeFinish = foldRun("run_1", events.slice(0, -1));
    assert.equal(beforeFinish.activeAgentId, "agt_2");
    const state = foldRun("run_1", events);
    assert.deepEqual(
      state.agents.map((a) => [a.agentId, a.name, a.parentAgentId, a.status, a.steps]),
      [
        ["agt_1", "planner", undefined, "running", 1],
        ["agt_2", "coder", "agt_1", "finished", 2],
      ],
    );
    assert.deepEqual(state.agents[1]?.report, report);
    assert.equal(state.activeAgentId, "agt_1");
    assert.equal(state.steps, 3, "run-wide steps count every agent's steps");
  });

  it("lists tool calls without a result as pending: the crash-interrupted case", () => {
    const state = foldRun(
      "run_1",
      log([
        created,
        started("agt_1", "g"),
        requested("agt_1", "c1"),
        { type: "tool.call.started", agentId: "agt_1", data: { callId: "c1", name: "run_command" } },
        {
          type: "tool.call.ended",
          agentId: "agt_1",
          data: { callId: "c1", name: "run_command", output: "ok", isError: false, durationMs: 1 },
        },
        requested("agt_1", "c2"),
        { type: "tool.call.started", agentId: "agt_1", data: { callId: "c2", name: "run_command" } },
        requested("agt_1", "c3"),
        // the process died here: c2 was running, c3 was waiting (e.g. for an approval)
      ]),
    );
    assert.equal(state.toolCalls, 3);
    assert.deepEqual(
      state.pendingToolCalls.map((c) => [c.callId, c.started, c.seq, c.agentId, c.args]),
      [
        ["c2", true, 5, "agt_1", { command: "make c2" }],
        ["c3", false, 7, "agt_1", { command: "make c3" }],
      ],
    );
  });

  it("lists checkpoints in order with their files", () => {
    const state = foldRun(
      "run_1",
      log([
        created,
        {
          type: "checkpoint.created",
          data: { ref: "aaa111", label: "write_file (step 1)", filesChanged: ["a.ts"] },
        },
        {
          type: "checkpoint.created",
          data: { ref: "bbb222", label: "final", filesChanged: ["a.ts", "b.ts"] },
        },
      ]),
    );
    assert.deepEqual(state.checkpoints, [
      { seq: 1, ref: "aaa111", label: "write_file (step 1)", filesChanged: ["a.ts"] },
      { seq: 2, ref: "bbb222", label: "final", filesChanged: ["a.ts", "b.ts"] },
    ]);
  });

  it("lists the approvals waiting for an answer; a new driver asks again, so its attach clears them", () => {
    const asked = (approvalId: string, command: string): NewEvent => ({
      type: "approval.requested",
      agentId: "agt_1",
      data: { approvalId, tool: "run_command", args: { command }, risk: "execute", reason: "ask-risky" },
    });
    const attached: NewEvent = { type: "run.attached", data: { pid: 42, resumed: true } };
    const resolved: NewEvent = {
      type: "approval.resolved",
      data: { approvalId: "apr_1", decision: "approve", by: "dashboard" },
    };
    const waiting = (events: NewEvent[]) =>
      foldRun("run_1", log([created, ...events])).pendingApprovals.map((a) => [
        a.approvalId,
        a.args,
        a.since,
      ]);
    assert.deepEqual(waiting([asked("apr_1", "npm test"), asked("apr_2", "make")]), [
      ["apr_1", { command: "npm test" }, 1_001],
      ["apr_2", { command: "make" }, 1_002],
    ]);
    assert.deepEqual(waiting([asked("apr_1", "npm test"), asked("apr_2", "make"), resolved]), [
      ["apr_2", { command: "make" }, 1_002],
    ]);
    assert.deepEqual(waiting([asked("apr_1", "npm test"), attached]), []);
  });

  it("is the same state when folded twice from the same log (no hidden mutation of events)", () => {
    const events = log([
      created,
      started("agt_1", "g"),
      response("agt_1", 1, 1, 0.1),
      requested("agt_1", "c1"),
    ]);
    const copy = structuredClone(events);
    const a = foldRun("run_1", events);
    const b = foldRun("run_1", events);
    assert.deepEqual(a, b);
    assert.deepEqual(events, copy);
  });
});
