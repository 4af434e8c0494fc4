import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { A, RUN, SAMPLES, sampleLog } from "../../test/support/event-samples.ts";
import { describeArgs, describedTypes, describeEvent, EventContext } from "./describe-event.ts";
import { type EntourageEvent, type EventData, type EventType, eventTypes } from "./index.ts";

/** The description of the `index`th sample of a type, with the context the whole sample log builds. */
function described<T extends EventType>(type: T, index = 0, context = contextOf(sampleLog())) {
  const sample = SAMPLES[type][index] as { data: EventData<T>; agentId?: string; time?: number };
  const event = { id: "e", runId: RUN, seq: 99, v: 1, time: sample.time ?? 20_000, type, ...sample };
  return describeEvent(event as EntourageEvent, context);
}

function contextOf(events: EntourageEvent[]): EventContext {
  const context = new EventContext();
  for (const e of events) context.observe(e);
  return context;
}

describe("describeEvent", () => {
  it("describes every event type: a new type without words (or without a sample) fails here", () => {
    assert.deepEqual(
      eventTypes.filter((type) => !describedTypes().includes(type)),
      [],
      "event types without words in src/core/describe-event.ts",
    );
    for (const type of eventTypes) {
      const samples = SAMPLES[type];
      assert.ok(
        samples?.length,
        `no sample of ${type}: add one to test/support/event-samples.ts and its words to src/core/describe-event.ts`,
      );
      for (let i = 0; i < samples.length; i += 1) {
        const d = described(type, i);
        assert.ok(d.title.trim(), `${type}: empty title`);
        assert.ok(["info", "ok", "warn", "error"].includes(d.tone), `${type}: tone ${d.tone}`);
        assert.ok([0, 1, 2].includes(d.depth), `${type}: depth ${d.depth}`);
        assert.doesNotMatch(d.title, /\n/, `${type}: a title is one line (lines go in lines/detail)`);
        assert.doesNotMatch(d.title, /undefined|\[object/, `${type}: ${d.title}`);
      }
    }
  });

  it("names agents from the context, and says so plainly when it does not know them", () => {
    assert.equal(described("intervention.delivered").title, "delivered to implementer (step 2)");
    assert.equal(
      described("intervention.delivered", 0, new EventContext()).title,
      `delivered to ${A} (step 2)`,
    );
    assert.match(described("workspace.merged").title, /^merged tester's copy/);
    assert.match(described("workspace.merged", 0, new EventContext()).title, /^merged agent's copy/);
  });

  it("says how long the run took from its start, and nothing about it without one", () => {
    assert.equal(described("run.finished").title, "succeeded in 4.2 s");
    assert.equal(described("run.finished", 0, new EventContext()).title, "succeeded");
    assert.deepEqual(described("run.finished").lines, ["Fixed the parser.", "All 12 tests pass."]);
  });

  it("labels the scripted model and a sandbox without isolation wherever the run is described", () => {
    const d = described("run.created");
    assert.match(d.detail ?? "", /model scripted\/demo-fix-date \(scripted demo model, not an LLM\)/);
    assert.match(d.detail ?? "", /sandbox subprocess \(NO ISOLATION\)/);
    const [leftOut] = d.also ?? [];
    assert.equal(leftOut?.title, "left out of the workspace: 3 path(s)");
    assert.deepEqual(leftOut?.list, {
      items: ["vendor/nested: nested git repository", "tools/other: nested git repository"],
      total: 3,
    });
  });

  it("uses the words the terminal used where the two views disagreed", () => {
    // The dashboard said "Route: change (the whole team)"; the terminal named the team.
    assert.equal(
      described("run.routed").title,
      'route: change (Analyzer → plan → Implementer ⇄ Tester → Refactorer) — the request asks for a change ("fix")',
    );
    // The dashboard numbered the attempt that failed ("attempt 1"); the terminal the one coming.
    assert.equal(
      described("llm.retry").title,
      "model call failed (HTTP 429 rate limited); retry in 2.0 s (attempt 2)",
    );
    // The dashboard printed the enum ("Loop detected (no_progress): stopped").
    assert.equal(described("loop.detected", 1).title, "stall detected (stopped): 8 steps without a change");
    // The dashboard said "Verified: tests pass" and left the reason below.
    assert.equal(
      described("verification.ended").title,
      "verified: npm test exited 0 on the final workspace (event 40) — the agent's run of it, reused",
    );
    // The dashboard said "Resumed by a process".
    assert.equal(
      described("run.attached", 1).title,
      "resumed by pid 42 (took over from pid 41, pid 41 on box, which had stopped)",
    );
  });

  it("takes the better of each view where one said more", () => {
    // The terminal did not show a saved rule (the dashboard did), nor a revised plan's steps.
    assert.equal(
      described("approval.resolved").title,
      'approved by cli · rule saved: run_command "npm test" → allow',
    );
    assert.deepEqual(described("plan.revised").lines, ["1. [implementer] Pad month and day"]);
    // The dashboard gave no duration for setup, the terminal none for a failed one.
    assert.equal(described("setup.ended", 1).title, "setup exited 1 · 300 ms");
    // The dashboard showed a rewind's event, the terminal its commit.
    assert.match(described("workspace.restored").title, /^workspace restored to event 12 \(9f8e7d6c\): /);
    // A stopped loop is an error in both now (the terminal showed it like a warning).
    assert.equal(described("loop.detected", 1).tone, "error");
    // Paths that are not UTF-8 read as bytes, as git shows them (the dashboard showed U+FFFD).
    assert.match(described("diff.ready").detail ?? "", /added caf\\xE9\.txt/);
  });

  it("keeps bookkeeping out of what views print, but the pause the run is in", () => {
    for (const type of ["llm.request", "llm.response", "tool.call.started", "agent.step.ended"] as const)
      assert.equal(described(type).minor, true, type);
    assert.equal(described("run.status").minor, true); // running: the status shows it
    assert.equal(described("run.status", 1).minor, undefined); // paused: say why and how to go on
    assert.equal(
      described("run.status", 1).title,
      "paused: interrupted; continue with: entourage resume run_abc",
    );
  });

  it("leaves out a denied call's output (the denial is said above) but not an invalid call's error", () => {
    assert.deepEqual(described("tool.call.ended", 1).lines, [
      'Unknown tool "nope". Available tools: read_file.',
    ]);
    const denied = {
      ...SAMPLES["tool.call.ended"][1]!,
      data: {
        ...SAMPLES["tool.call.ended"][1]!.data,
        skipped: "denied" as const,
        output: "The user denied it.",
      },
    };
    const event = { id: "e", runId: RUN, seq: 1, v: 1, time: 1, type: "tool.call.ended", ...denied };
    const d = describeEvent(event as EntourageEvent);
    assert.equal(d.title, "denied · 0 ms");
    assert.equal(d.lines, undefined);
  });
});

describe("describeArgs", () => {
  it("shows the argument a person cares about, on one line, cut at the given width", () => {
    assert.equal(describeArgs("run_command", { command: "npm\n  test" }), "npm test");
    assert.equal(describeArgs("read_file", { path: "src/a.ts", offset: 200 }), "src/a.ts @200");
    assert.equal(describeArgs("delegate", { agent: "tester", task: "run the tests" }), "tester");
    assert.equal(describeArgs("x", { n: 1 }), '{"n":1}');
    const long = describeArgs("run_command", { command: "x".repeat(200) });
    assert.equal(long.length, 118);
    assert.ok(long.endsWith("…"));
    assert.equal(describeArgs("run_command", { command: "y".repeat(200) }, 160).length, 158);
  });
});
