/**
 * What the adapter itself decides, over one wire (OpenAI chat completions from the fake model server):
 * retry limits, retry-after handling, aborts between attempts, 404s, early consumer exit. What every
 * provider must do is the Model conformance suite (test/support/llm/model.conformance.ts, run by
 * test/llm/model-conformance.test.ts).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type FakeModelServer, type FakeTurn, startFakeModelServer } from "../../../test/fake-llm/index.ts";
import { collect, request } from "../../../test/support/llm/model.conformance-support.ts";
import { AbortedError, SystemError, UserError } from "../../core/index.ts";
import { type CreateModelDeps, createModel } from "../create-model.ts";
import type { ModelPart } from "../model.ts";

const servers: FakeModelServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

interface Setup {
  server: FakeModelServer;
  model: ReturnType<typeof createModel>;
  delays: number[];
}

async function setup(turns: FakeTurn[], deps: CreateModelDeps = {}): Promise<Setup> {
  const server = await startFakeModelServer({ scenario: turns });
  servers.push(server);
  const delays: number[] = [];
  const model = createModel(
    { provider: "openai", model: "gpt-test", baseUrl: server.baseUrl, apiKey: "sk-test" },
    {
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
      retry: { idleTimeoutMs: 200 },
      ...deps,
    },
  );
  return { server, model, delays };
}

describe("retry limits, aborts and errors (openai wire)", () => {
  test("after the last attempt a SystemError names the attempts and the last HTTP status", async () => {
    const { model, server } = await setup([{ status: 503 }, { status: 502 }, { status: 500 }], {
      retry: { maxAttempts: 3 },
    });
    const parts: ModelPart[] = [];
    const error = await (async () => {
      for await (const p of model.stream(request())) parts.push(p);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(SystemError.isInstance(error));
    assert.equal(error.code, "model_unavailable");
    assert.equal(error.retryable, true);
    assert.match(error.message, /after 3 attempts/);
    assert.match(error.message, /HTTP 500/);
    assert.equal(parts.filter((p) => p.type === "retry").length, 2);
    assert.equal(server.requests.length, 3);
  });

  test("a retry-after-ms header is honoured and a huge retry-after is clipped", async () => {
    const { model, delays } = await setup([
      { status: 429, retryAfterMs: 1234 },
      { status: 429, retryAfter: 3600 },
      { text: "ok" },
    ]);
    await collect(model.stream(request()));
    assert.deepEqual(delays, [1234, 60_000]);
  });

  test("404 becomes a user error that points at --model and --base-url", async () => {
    const { model } = await setup([{ status: 404, errorMessage: "model gpt-test does not exist" }]);
    await assert.rejects(collect(model.stream(request())), (e: unknown) => {
      assert.ok(UserError.isInstance(e));
      assert.equal(e.code, "model_not_found");
      assert.match(e.message, /--model/);
      assert.match(e.message, /--base-url/);
      return true;
    });
  });

  test("aborting while waiting to retry throws AbortedError and sends no further request", async () => {
    const controller = new AbortController();
    const { model, server } = await setup([{ status: 500 }, { text: "never" }], {
      sleep: async () => {
        controller.abort();
      },
    });
    await assert.rejects(collect(model.stream(request({ signal: controller.signal }))), (e: unknown) =>
      AbortedError.isInstance(e),
    );
    assert.equal(server.requests.length, 1);
  });

  test("the consumer stopping early closes the connection", async () => {
    const { model, server } = await setup([{ text: "a b c d e f", chunkDelayMs: 30 }]);
    for await (const p of model.stream(request())) {
      if (p.type === "text-delta") break;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.requests[0]?.ended, false, "the server never got to finish the response");
  });
});
