import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import type { FakeModelServer } from "../fake-llm/server.ts";
import { api, eventually, liveRunFixture, readSse, type WireEvent, waitForApproval } from "../helpers/api.ts";
import { dbEvents } from "./support.ts";

/**
 * Human in the loop over the HTTP API, end to end: the built CLI runs a task against the fake model
 * server, without a terminal and without --yes, and a test client steers it through the API the CLI
 * serves while the run is live. What the model receives is asserted on the fake server's recorded requests.
 */

/** The answer to the lesson-drafting call a finished run makes per correction: nothing general. */
const noLesson: FakeTurn = { name: "lesson draft", text: "none" };

const finish = (summary = "Done."): FakeTurn => ({
  toolCalls: [{ name: "finish", arguments: { status: "done", summary, files_changed: [] } }],
});

/** Every message of a recorded request, as one string. */
function sent(server: FakeModelServer, index: number): string {
  return JSON.stringify(server.requests[index]?.body.messages ?? null);
}

async function events(url: string, runId: string): Promise<WireEvent[]> {
  return (await api<{ events: WireEvent[] }>(url, `/runs/${runId}/events?limit=5000`)).body.events;
}

describe("the HTTP API of a live CLI run", () => {
  const fixture = liveRunFixture();
  const run = (turns: FakeTurn[], extra: string[] = []) => fixture.run(turns, extra);

  it("a risky command waits for approval, is approved over the API, and runs; an SSE client that reconnects with Last-Event-ID gets every event once", async () => {
    const live = await run([
      {
        text: "Running it.",
        toolCalls: [{ name: "run_command", arguments: { command: "echo approved-by-api" } }],
      },
      { expectMessageContains: ["approved-by-api"], ...finish() },
    ]);
    const stream = `${live.url}/runs/${live.runId}/stream`;
    const first = await readSse(stream, { until: (r) => r.event.type === "approval.requested" });
    const approval = await waitForApproval(live.url, live.runId, "run_command");
    assert.deepEqual(approval.args, { command: "echo approved-by-api" });
    // Without a terminal the CLI says where the answer can come from.
    await eventually(
      () => (live.stderr().includes(`/approvals/${approval.approvalId}`) ? true : undefined),
      "the CLI's approval hint",
    );

    const answer = await api(live.url, `/runs/${live.runId}/approvals/${approval.approvalId}`, {
      body: { decision: "approve" },
    });
    assert.equal(answer.status, 200);
    const again = await api<{ error: { code: string } }>(
      live.url,
      `/runs/${live.runId}/approvals/${approval.approvalId}`,
      { body: { decision: "deny" } },
    );
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "approval_answered");

    const second = await readSse(stream, {
      lastEventId: first.at(-1)!.id,
      until: (r) => r.event.type === "run.finished",
    });
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);

    const log = dbEvents(fixture.home, live.runId);
    assert.deepEqual(
      [...first, ...second].map((r) => Number(r.id)),
      log.map((e) => e.seq),
      "every event exactly once, in order",
    );
    const resolved = log.find((e) => e.type === "approval.resolved");
    assert.equal(resolved?.data.by, "api");
    const ended = log.find((e) => e.type === "tool.call.ended" && e.data.name === "run_command");
    assert.equal(ended?.data.exitCode, 0);
    assert.match(sent(fixture.server, 1), /approved-by-api/);
  });

  it("a denial's reason reaches the model", async () => {
    const reason = "Keep the build folder; run npm run clean instead";
    const live = await run([
      { toolCalls: [{ name: "run_command", arguments: { command: "rm -rf build" } }] },
      { expectMessageContains: [reason], ...finish("Left the build folder alone.") },
      noLesson,
    ]);
    const approval = await waitForApproval(live.url, live.runId, "run_command");
    const answer = await api(live.url, `/runs/${live.runId}/approvals/${approval.approvalId}`, {
      body: { decision: "deny", reason },
    });
    assert.equal(answer.status, 200);
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);
    assert.match(
      sent(fixture.server, 1),
      /The user denied this run_command call\. Reason: Keep the build folder/,
    );
    const ended = dbEvents(fixture.home, live.runId).find((e) => e.type === "tool.call.ended");
    assert.equal(ended?.data.skipped, "denied");
  });

  it("a queued and an interrupting intervention each reach the model", async () => {
    const live = await run([
      { toolCalls: [{ name: "run_command", arguments: { command: "echo step-one" } }] },
      {
        expectMessageContains: ["[Message from the user] Please also look at the README"],
        toolCalls: [{ name: "list_files", arguments: {} }],
      },
      // A slow answer, cut by the interrupting message.
      { delayMs: 60_000, text: "This answer is never finished." },
      { expectMessageContains: ["Stop exploring and finish now"], ...finish() },
      noLesson,
      noLesson,
    ]);
    const approval = await waitForApproval(live.url, live.runId, "run_command");
    // While the agent waits, a message for its next step.
    const queued = await api(live.url, `/runs/${live.runId}/interventions`, {
      body: { message: "Please also look at the README" },
    });
    assert.equal(queued.status, 202);
    await api(live.url, `/runs/${live.runId}/approvals/${approval.approvalId}`, {
      body: { decision: "approve" },
    });
    // The third model call is in flight (and slow): interrupt it.
    await eventually(() => (fixture.server.requests.length >= 3 ? true : undefined), "the slow model call");
    const interrupt = await api(live.url, `/runs/${live.runId}/interventions`, {
      body: { message: "Stop exploring and finish now", interrupt: true },
    });
    assert.equal(interrupt.status, 202);
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);
    assert.equal(fixture.server.requests.length, 6);
    assert.match(sent(fixture.server, 1), /\[Message from the user\] Please also look at the README/);
    assert.doesNotMatch(sent(fixture.server, 2), /Stop exploring/);
    assert.match(sent(fixture.server, 3), /\[Message from the user\] Stop exploring and finish now/);
    const log = dbEvents(fixture.home, live.runId);
    const received = log
      .filter((e) => e.type === "intervention.received")
      .map((e) => [e.data.by, e.data.interrupt]);
    assert.deepEqual(received, [
      ["api", false],
      ["api", true],
    ]);
    assert.equal(log.filter((e) => e.type === "intervention.delivered").length, 2);
  });

  it("pause holds the run at the next step, resume continues it, cancel ends it cancelled (exit 1)", async () => {
    const live = await run([
      { delayMs: 1500, text: "Looking around.", toolCalls: [{ name: "list_files", arguments: {} }] },
      { toolCalls: [{ name: "run_command", arguments: { command: "echo never-runs" } }] },
      finish("never reached"),
    ]);
    await eventually(() => (fixture.server.requests.length >= 1 ? true : undefined), "the first model call");
    const pause = await api(live.url, `/runs/${live.runId}/pause`, { body: { reason: "let me look" } });
    assert.equal(pause.status, 200);
    // The step in flight completes; the next one does not start while paused.
    await eventually(
      async () =>
        (await events(live.url, live.runId)).some((e) => e.type === "tool.call.ended") ? true : undefined,
      "the first step's tool call",
    );
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(fixture.server.requests.length, 1, "no model call while paused");
    const detail = await api<{ run: { status: string } }>(live.url, `/runs/${live.runId}`);
    assert.equal(detail.body.run.status, "paused");

    assert.equal((await api(live.url, `/runs/${live.runId}/resume`, { method: "POST" })).status, 200);
    await waitForApproval(live.url, live.runId, "run_command");
    assert.equal(fixture.server.requests.length, 2);
    const cancel = await api(live.url, `/runs/${live.runId}/cancel`, { body: { reason: "wrong task" } });
    assert.equal(cancel.status, 202);
    const result = await live.done;
    assert.equal(result.code, 1, result.stderr);
    const log = dbEvents(fixture.home, live.runId);
    const types = log.map((e) => e.type);
    assert.ok(types.indexOf("run.paused") < types.indexOf("run.resumed"));
    assert.equal(log.at(-1)?.type, "run.finished");
    assert.equal(log.at(-1)?.data.status, "cancelled");
    assert.match(String(log.at(-1)?.data.summary), /Cancelled by api: wrong task/);
    assert.ok(!log.some((e) => e.type === "tool.call.started" && e.data.name === "run_command"));
    assert.equal(fixture.server.requests.length, 2);
  });

  it("approval mode plan: a write is refused (and the model told so) while no plan is approved", async () => {
    const live = await run(
      [
        { toolCalls: [{ name: "write_file", arguments: { path: "notes.txt", content: "hello\n" } }] },
        { expectMessageContains: ["read-only until the plan is approved"], ...finish("Could not write.") },
      ],
      ["--approval", "plan"],
    );
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);
    const log = dbEvents(fixture.home, live.runId);
    assert.ok(
      !log.some((e) => e.type === "checkpoint.created" && (e.data.filesChanged as string[]).length > 0),
    );
    assert.equal(log.find((e) => e.type === "tool.call.ended")?.data.skipped, "denied");
  });
});
