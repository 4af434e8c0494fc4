import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { NewEvent } from "../core/index.ts";
import type { Model, ModelRequest } from "../llm/index.ts";
import { createScriptedModel } from "../llm/index.ts";
import { createMemoryEventStore } from "../store/index.ts";
import { findCorrections } from "./corrections.ts";
import { decideLesson, proposalsOf, proposeLessons } from "./lessons.ts";
import { lessonsOf, readMemory } from "./memory-file.ts";

const repo = mkdtempSync(join(tmpdir(), "entourage-lessons-"));
after(() => rmSync(repo, { recursive: true, force: true }));

/** A run with three corrections by a person and two answers that are not corrections. */
function runEvents(): NewEvent[] {
  const plan = {
    facts: [],
    steps: [{ id: "s1", description: "Add pyjwt", owner: "implementer", status: "pending" as const }],
  };
  return [
    {
      type: "run.created",
      data: {
        task: "Add login",
        repo,
        workspace: "/w",
        mode: "pipeline",
        model: { provider: "openai", model: "m" },
        sandbox: { backend: "subprocess", isolated: false, network: "off" },
        budget: { maxSteps: 5 },
        approval: "ask-risky",
      },
    },
    { type: "plan.proposed", data: { planId: "p1", plan } },
    {
      type: "plan.revised",
      data: {
        planId: "p1",
        plan: { ...plan, steps: [{ ...plan.steps[0]!, description: "Add jose" }] },
        by: "cli",
      },
    },
    {
      type: "approval.requested",
      data: {
        approvalId: "a1",
        tool: "run_command",
        args: { command: "npm install" },
        risk: "network",
        reason: "r",
      },
    },
    {
      type: "approval.resolved",
      data: { approvalId: "a1", decision: "deny", by: "cli", reason: "use npm ci" },
    },
    {
      type: "approval.requested",
      data: {
        approvalId: "a2",
        tool: "run_command",
        args: { command: "rm -rf /" },
        risk: "destructive",
        reason: "r",
      },
    },
    {
      type: "approval.resolved",
      data: { approvalId: "a2", decision: "deny", by: "rule", reason: "denied by rule" },
    },
    {
      type: "intervention.received",
      data: { interventionId: "i1", message: "just this once, skip the docs", interrupt: false, by: "api" },
    },
    { type: "plan.revised", data: { planId: "p1", plan, by: "planner" } },
    { type: "run.finished", data: { status: "succeeded", summary: "ok" } },
  ];
}

describe("lessons from corrections", () => {
  it("finds the person's corrections only", async () => {
    const store = createMemoryEventStore();
    await store.append("run_1", runEvents());
    const found = findCorrections(await store.read("run_1"));
    assert.deepEqual(
      found.map((c) => [c.kind, c.said]),
      [
        ["plan-edit", 'The person removed step "Add pyjwt"; added step "Add jose".'],
        ["denial", "use npm ci"],
        ["intervention", "just this once, skip the docs"],
      ],
    );
  });

  it("drafts one lesson per correction, saves only on acceptance, and never drafts twice", async () => {
    const store = createMemoryEventStore();
    await store.append("run_1", runEvents());
    const prompts: ModelRequest[] = [];
    const answers = ["Use the jose library for JWT, not pyjwt.", "- Use `npm ci`, not npm install.", "none"];
    const model: Model = {
      ...createScriptedModel({
        turns: answers.map((text) => (request: ModelRequest) => {
          prompts.push(request);
          return { text };
        }),
      }),
      scripted: false,
    };
    const pending = await proposeLessons(store, "run_1", model);
    assert.deepEqual(
      pending.map((p) => [p.text, p.drafted]),
      [
        ["Use the jose library for JWT, not pyjwt.", "model"],
        ["Use `npm ci`, not npm install.", "model"],
      ],
    );
    assert.match(
      prompts[1]!.messages[0]!.role === "user" ? prompts[1]!.messages[0]!.content : "",
      /use npm ci/,
    );
    assert.deepEqual(prompts[0]!.tools, []);
    const events = await store.read("run_1");
    assert.ok(events.some((e) => e.type === "lesson.skipped"));
    assert.equal(readMemory(repo).exists, false, "nothing written before a decision");
    // Drafting again finds nothing new to draft.
    assert.equal((await proposeLessons(store, "run_1", model)).length, 2);

    await decideLesson(store, "run_1", { lessonId: pending[0]!.lessonId, decision: "accepted", by: "cli" });
    await decideLesson(store, "run_1", {
      lessonId: pending[1]!.lessonId,
      decision: "edited",
      text: "Install dependencies with npm ci.",
      by: "cli",
    });
    const memory = readMemory(repo);
    assert.deepEqual(
      lessonsOf(memory).map((l) => [l.id, l.text, l.provenance]),
      [
        [pending[0]!.lessonId, "Use the jose library for JWT, not pyjwt.", `run_1 #${pending[0]!.sourceSeq}`],
        [pending[1]!.lessonId, "Install dependencies with npm ci.", `run_1 #${pending[1]!.sourceSeq}`],
      ],
    );
    assert.match(readFileSync(memory.path, "utf8"), /^# Lessons for agents/);
    const after = proposalsOf(await store.read("run_1"));
    assert.deepEqual(
      after.map((p) => [p.status, p.saved]),
      [
        ["accepted", true],
        ["edited", true],
      ],
    );
    await assert.rejects(
      decideLesson(store, "run_1", { lessonId: pending[0]!.lessonId, decision: "rejected", by: "cli" }),
      /already accepted/,
    );
  });

  it("quotes the correction with the scripted model, and says so", async () => {
    const store = createMemoryEventStore();
    await store.append("run_2", runEvents());
    const pending = await proposeLessons(store, "run_2", createScriptedModel({ turns: [] }));
    assert.equal(pending.length, 3);
    assert.ok(pending.every((p) => p.drafted === "quoted" && /scripted/.test(p.note ?? "")));
    assert.equal(pending[1]!.text, "use npm ci");
  });
});
