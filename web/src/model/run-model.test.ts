import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeEvent } from "../../../src/core/describe-event.ts";
import type { EntourageEvent, NewEvent } from "../../../src/core/index.ts";
import { RUN, sampleLog } from "../../../test/support/event-samples.ts";
import { modelAt, RunModel } from "./run-model.ts";

/** Envelopes for a list of new events, seq from 0. */
function log(events: NewEvent[]): EntourageEvent[] {
  return events.map(
    (e, seq) => ({ id: `e${seq}`, runId: "run_1", seq, time: 1000 + seq, v: 1, ...e }) as EntourageEvent,
  );
}

const A = "agent_1";
const EVENTS = log([
  {
    type: "run.created",
    data: {
      task: "Fix it",
      repo: "/r",
      workspace: "/w",
      mode: "single",
      model: { provider: "scripted", model: "demo", scripted: true },
      sandbox: { backend: "subprocess", isolated: false, network: "off" },
      budget: { maxSteps: 5 },
      approval: "ask-risky",
    },
  },
  { type: "run.status", data: { status: "running" } },
  {
    type: "agent.started",
    agentId: A,
    data: { name: "implementer", role: "r", task: "t", model: "m", tools: [] },
  },
  { type: "agent.step.started", agentId: A, data: { step: 1 } },
  { type: "agent.text.delta", agentId: A, data: { step: 1, text: "Hel" } },
  { type: "agent.text.delta", agentId: A, data: { step: 1, text: "lo" } },
  {
    type: "agent.step.ended",
    agentId: A,
    data: {
      step: 1,
      text: "Hello",
      toolCalls: [{ id: "c1", name: "run_command", args: { command: "rm -rf build" } }],
      finishReason: "tool-calls",
      usage: { inputTokens: 10, outputTokens: 5 },
    },
  },
  {
    type: "tool.call.requested",
    agentId: A,
    data: {
      callId: "c1",
      name: "run_command",
      args: { command: "rm -rf build" },
      risk: "destructive",
      step: 1,
    },
  },
  {
    type: "approval.requested",
    agentId: A,
    data: {
      approvalId: "ap1",
      callId: "c1",
      tool: "run_command",
      args: { command: "rm -rf build" },
      risk: "destructive",
      reason: "asked",
    },
  },
  {
    type: "approval.resolved",
    data: { approvalId: "ap1", decision: "deny", by: "dashboard", reason: "keep build" },
  },
  {
    type: "tool.call.ended",
    agentId: A,
    data: {
      callId: "c1",
      name: "run_command",
      output: "denied: keep build",
      isError: true,
      durationMs: 0,
      skipped: "denied",
    },
  },
  { type: "agent.step.started", agentId: A, data: { step: 2 } },
  { type: "agent.text.delta", agentId: A, data: { step: 2, text: "Partial" } },
  {
    type: "intervention.received",
    data: { interventionId: "i1", message: "stop", interrupt: true, by: "dashboard" },
  },
  { type: "agent.step.started", agentId: A, data: { step: 2 } },
  { type: "intervention.delivered", data: { interventionId: "i1", agentId: A, step: 2 } },
]);

describe("RunModel", () => {
  it("folds the run state with the engine's reducer and builds the timeline", () => {
    const m = new RunModel("run_1");
    m.apply(EVENTS);
    assert.equal(m.state.status, "running");
    assert.equal(m.state.model.scripted, true);
    assert.equal(m.agentName(A), "implementer");
    const text = m.items.filter((i) => i.kind === "text");
    assert.deepEqual(
      text.map((t) => t.kind === "text" && [t.text, t.state]),
      [
        ["Hello", "done"],
        ["Partial", "cut"],
      ],
    );
    const tool = m.items.find((i) => i.kind === "tool");
    assert.ok(tool?.kind === "tool");
    assert.equal(tool.state, "done");
    assert.equal(tool.result?.skipped, "denied");
    assert.equal(tool.approval?.resolved?.reason, "keep build");
    assert.deepEqual(m.pendingApprovals(), []);
    const intervention = m.items.find((i) => i.kind === "intervention");
    assert.ok(intervention?.kind === "intervention");
    assert.deepEqual(intervention.delivered, { agentId: A, step: 2 });
  });

  it("applies each seq once, whatever a reconnecting stream repeats", () => {
    const m = new RunModel("run_1");
    m.apply(EVENTS.slice(0, 6));
    const again = m.apply(EVENTS.slice(3, 8));
    assert.equal(again, 2);
    assert.equal(m.events.length, 8);
    const t = m.items.find((i) => i.kind === "text");
    assert.ok(t?.kind === "text");
    assert.equal(t.text, "Hello");
  });

  it("a pending approval is listed until it is resolved; modelAt replays up to a seq", () => {
    const at = modelAt("run_1", EVENTS, 8);
    assert.deepEqual(
      at.pendingApprovals().map((a) => a.approvalId),
      ["ap1"],
    );
    const tool = at.items.find((i) => i.kind === "tool");
    assert.ok(tool?.kind === "tool");
    assert.equal(tool.state, "waiting");
    // `run.status` running is bookkeeping (the page's status shows it): only the run's note so far.
    assert.deepEqual(
      modelAt("run_1", EVENTS, 1).items.map((i) => i.kind === "note" && i.title),
      ["run created: Fix it"],
    );
    assert.equal(modelAt("run_1", EVENTS, 2).items.at(-1)?.kind, "agent");
  });
});

describe("RunModel notes: the shared description of each event", () => {
  const model = new RunModel(RUN);
  model.apply(sampleLog());
  const notes = model.items.filter((i) => i.kind === "note");
  const titles = notes.map((n) => n.title);

  it("reads each note as the terminal prints it, mark first", () => {
    assert.ok(titles.includes("⟳ model call failed (HTTP 429 rate limited); retry in 2.0 s (attempt 2)"));
    assert.ok(titles.includes("↻ stall detected (stopped): 8 steps without a change"));
    const verified = notes.find((n) => n.title.startsWith("✓ verified: "));
    assert.equal(verified?.tone, "ok");
    const stall = notes.find((n) => n.title.startsWith("↻ stall"));
    assert.equal(stall?.tone, "error");
  });

  it("puts a note's longer text below it: the nudge the agent got, a failed check's output", () => {
    const nudge = notes.find((n) => n.title.startsWith("↪ agent nudged"));
    assert.equal(nudge?.detail, "Use your tools, then call finish.");
    assert.equal(notes.find((n) => n.title.startsWith("✘ verification failed"))?.detail, "1 failing");
  });

  it("lists every path a workspace left out, and says how many more the log does not hold", () => {
    const leftOut = notes.find((n) => n.title.startsWith("! left out of the workspace"));
    assert.equal(leftOut?.tone, "warn");
    assert.equal(
      leftOut?.detail,
      "vendor/nested: nested git repository\ntools/other: nested git repository\n… and 1 more",
    );
  });

  it("makes no note of bookkeeping: model calls, usage, a tool's start, the first attach, `running`", () => {
    for (const e of sampleLog().filter((e) => describeEvent(e).minor))
      assert.ok(!notes.some((n) => n.seq === e.seq), `${e.type} (#${e.seq}) made a note`);
    assert.ok(!titles.some((t) => /^run running|^started by pid/.test(t)));
  });

  it("shows the pause and resume a person asked for, and an apply, as the terminal now does", () => {
    assert.ok(titles.includes("⏸ paused by api: lunch"));
    assert.ok(titles.includes("▶ resumed by api"));
    assert.ok(titles.includes("✓ applied to /home/u/dates: 1 file"));
  });

  it("shows a path that is not UTF-8 as its bytes", () => {
    const diff = notes.find((n) => n.title.startsWith("2 files changed"));
    assert.match(diff?.title ?? "", /caf\\xE9\.txt/);
    assert.doesNotMatch(diff?.detail ?? "", /\uFFFD|\uDCE9/);
  });

  it("titles plans with the same words, and keeps rows for what the page lays out itself", () => {
    const plans = model.items.filter((i) => i.kind === "plan").map((p) => p.kind === "plan" && p.title);
    assert.deepEqual(plans, ["plan proposed", "plan revised by cli: test the day too"]);
    assert.equal(model.plan?.status, "approved");
    assert.equal(model.ledger?.stuck, true);
    const kinds = new Set(model.items.map((i) => i.kind));
    for (const kind of ["agent", "text", "reasoning", "tool", "intervention", "report"] as const)
      assert.ok(kinds.has(kind), kind);
  });
});

describe("RunModel: a run's outcome in the same one word as the terminal", () => {
  const finish = (status: "blocked" | "done", error?: boolean): NewEvent[] => [
    {
      type: "agent.started",
      agentId: A,
      data: { name: "general", role: "Does it.", task: "Fix it", model: "m", tools: [] },
    },
    {
      type: "agent.finished",
      agentId: A,
      data: { name: "general", reason: "finish", report: { status, summary: "No spec.", filesChanged: [] } },
    },
    {
      type: "run.finished",
      data: {
        status: "failed",
        summary: "No spec.",
        error: error ? { code: "internal_error", message: "boom" } : undefined,
      },
    },
  ];
  const outcome = (events: NewEvent[]) => {
    const model = new RunModel("run_1");
    model.apply(log([...EVENTS.slice(0, 2), ...events]));
    return model.items
      .filter((i) => i.kind === "note")
      .map((n) => n.title)
      .at(-1);
  };

  it("a run its agent reported blocked reads blocked, as the agent's report does", () => {
    assert.match(outcome(finish("blocked")) ?? "", /^✘ blocked in /);
  });

  it("a run that failed otherwise (its tests, an error) reads failed", () => {
    assert.match(outcome(finish("done")) ?? "", /^✘ failed in /);
    assert.match(outcome(finish("blocked", true)) ?? "", /^✘ failed in /);
  });
});
