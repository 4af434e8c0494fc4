import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { api, eventually, liveRunFixture } from "../helpers/api.ts";
import { dbEvents } from "./support.ts";

/**
 * Redirect over the API of a live CLI run: the agent in flight is stopped and its phase starts over with
 * the person's message — by another agent they name, or by a fresh agent of the same kind.
 */
const noLesson: FakeTurn = { name: "lesson draft", text: "none" };
const finish: FakeTurn = { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Done." } }] };

describe("redirect", () => {
  const fixture = liveRunFixture();
  const start = (turns: FakeTurn[]) => fixture.run(turns, ["--yes"]);

  it("hands the task to the agent the person names, with their message", async () => {
    const live = await start([
      { delayMs: 60_000, text: "A slow answer that is never finished." },
      {
        expectMessageContains: ["who redirected this task to you (tester)", "Only run the tests"],
        ...finish,
      },
      noLesson,
    ]);
    await eventually(() => (fixture.server.requests.length >= 1 ? true : undefined), "the first model call");
    const sent = await api(live.url, `/runs/${live.runId}/interventions`, {
      body: { message: "Only run the tests", redirect: { to: "tester" } },
    });
    assert.equal(sent.status, 202);
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);
    const log = dbEvents(fixture.home, live.runId);
    const first = log.find((e) => e.type === "agent.finished");
    assert.equal(first?.data.reason, "redirected");
    const started = log.filter((e) => e.type === "agent.started").map((e) => [e.data.name, e.data.phase]);
    assert.deepEqual(started, [
      ["general", "task"],
      ["tester", "task~2"],
    ]);
    const handoff = log.filter((e) => e.type === "agent.handoff").at(-1);
    assert.equal(handoff?.data.reason, "redirected by the user to tester");
    // The tester got the tester's prompt and tools, not the general agent's.
    const body = fixture.server.requests[1]?.body as { messages: { role: string; content: string }[] };
    assert.match(JSON.stringify(body.messages[0]), /You are the Tester/);
  });

  it("without a target, restarts the phase with a fresh agent of the same kind", async () => {
    const live = await start([
      { delayMs: 60_000, text: "A slow answer that is never finished." },
      {
        expectMessageContains: ["who redirected this task] Start over: look at src/date.js first"],
        ...finish,
      },
      noLesson,
    ]);
    await eventually(() => (fixture.server.requests.length >= 1 ? true : undefined), "the first model call");
    await api(live.url, `/runs/${live.runId}/interventions`, {
      body: { message: "Start over: look at src/date.js first", redirect: {} },
    });
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(fixture.server.failures, []);
    const started = dbEvents(fixture.home, live.runId)
      .filter((e) => e.type === "agent.started")
      .map((e) => [e.data.name, e.data.phase]);
    assert.deepEqual(started, [
      ["general", "task"],
      ["general", "task~2"],
    ]);
  });

  it("a redirect to an unknown agent name restarts the phase and says so, rather than stopping the run", async () => {
    const live = await start([
      { delayMs: 60_000, text: "Slow." },
      { expectMessageContains: ["Try again"], ...finish },
      noLesson,
    ]);
    await eventually(() => (fixture.server.requests.length >= 1 ? true : undefined), "the first model call");
    await api(live.url, `/runs/${live.runId}/interventions`, {
      body: { message: "Try again", redirect: { to: "nobody" } },
    });
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    const log = dbEvents(fixture.home, live.runId);
    assert.equal(log.filter((e) => e.type === "agent.started").at(-1)?.data.name, "general");
    const handoff = log.filter((e) => e.type === "agent.handoff").at(-1);
    assert.match(
      String(handoff?.data.reason),
      /"nobody", which is no agent of this run: restarted with general instead/,
    );
  });
});
