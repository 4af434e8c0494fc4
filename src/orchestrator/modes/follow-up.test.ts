import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type EventData, foldRun, UserError } from "../../core/index.ts";
import { createMemoryEventStore } from "../../store/backends/memory.ts";
import { reopenRun } from "../control/run-actions.ts";
import { createRun } from "../run-engine.ts";
import { currentFollowUp, followUpMessage } from "./follow-up.ts";

const created: EventData<"run.created"> = {
  task: "Fix the date helper",
  repo: "/r",
  workspace: "/w",
  mode: "pipeline",
  model: { provider: "openai", model: "m" },
  sandbox: { backend: "subprocess", isolated: false, network: "off" },
  budget: { maxSteps: 5 },
  approval: "ask-risky",
};

async function finishedRun(status: "succeeded" | "cancelled" = "succeeded") {
  const store = createMemoryEventStore();
  await createRun(store, "run_f", created);
  await store.append("run_f", [{ type: "run.finished", data: { status, summary: "Fixed the month." } }]);
  return store;
}

describe("a finished run reopened with a follow-up request", () => {
  it("logs the request and leaves the run paused, its old ending cleared; the follow-up phase is told both", async () => {
    const store = await finishedRun();
    await reopenRun(store, "run_f", { request: "Also pad the day", by: "acp" });
    const events = await store.read("run_f");
    assert.deepEqual(
      events.slice(-2).map((e) => e.type),
      ["run.reopened", "run.status"],
    );
    const state = foldRun("run_f", events);
    assert.equal(state.status, "paused");
    assert.equal(state.summary, undefined);
    const followUp = currentFollowUp(events);
    assert.equal(followUp?.index, 1);
    const message = followUpMessage(state.task, events, followUp!.event);
    assert.match(message, /Earlier in this session the user asked: Fix the date helper/);
    assert.match(message, /It ended succeeded: Fixed the month\./);
    assert.match(message, /Now the user asks: Also pad the day/);
  });

  it("a second follow-up is the second phase, told how the first one ended", async () => {
    const store = await finishedRun("cancelled");
    await reopenRun(store, "run_f", { request: "first", by: "acp" });
    await store.append("run_f", [
      { type: "run.finished", data: { status: "failed", summary: "Tests fail." } },
    ]);
    await reopenRun(store, "run_f", { request: "second", by: "api" });
    const events = await store.read("run_f");
    const followUp = currentFollowUp(events)!;
    assert.equal(followUp.index, 2);
    assert.equal(followUp.event.data.request, "second");
    assert.match(followUpMessage("t", events, followUp.event), /It ended failed: Tests fail\./);
  });

  it("refuses a run that has not finished, an empty request and an unknown run", async () => {
    const store = createMemoryEventStore();
    await createRun(store, "run_q", created);
    await assert.rejects(
      reopenRun(store, "run_q", { request: "more", by: "acp" }),
      (e: unknown) => UserError.isInstance(e) && e.code === "run_active",
    );
    const done = await finishedRun();
    await assert.rejects(
      reopenRun(done, "run_f", { request: "  ", by: "acp" }),
      (e: unknown) => UserError.isInstance(e) && e.code === "empty_task",
    );
    await assert.rejects(
      reopenRun(done, "run_nope", { request: "x", by: "acp" }),
      (e: unknown) => UserError.isInstance(e) && e.code === "run_not_found",
    );
    assert.equal((await store.read("run_q")).length, 2, "nothing was written");
  });
});
