/**
 * The provider adapters against the fake model server over real HTTP: the code under test is the code
 * users run, down to the AI SDK's wire parsing. One shared suite runs for every wire-compatible provider.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type FakeModelServer, type FakeTurn, startFakeModelServer } from "../../../test/fake-llm/index.ts";
import { AbortedError, EntourageError, SystemError, UserError } from "../../core/index.ts";
import type { ModelConfig } from "../config.ts";
import { type CreateModelDeps, createModel } from "../create-model.ts";
import type { ModelPart, ModelRequest } from "../model.ts";

// biome-ignore lint/suspicious/noExplicitAny: recorded request bodies are arbitrary provider JSON
type WireJson = any;

const servers: FakeModelServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const readFileTool = {
  name: "read_file",
  description: "Read a file of the workspace.",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string", description: "Path relative to the workspace" } },
    required: ["path"],
    additionalProperties: false,
  },
};

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: "You are a careful coding agent.",
    messages: [{ role: "user", content: "Fix the failing test." }],
    tools: [readFileTool],
    ...overrides,
  };
}

async function collect(parts: AsyncIterable<ModelPart>): Promise<ModelPart[]> {
  const out: ModelPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const textOf = (parts: ModelPart[]) =>
  parts.map((p) => (p.type === "text-delta" ? p.text : p.type === "retry" ? "|retry|" : "")).join("");

interface Setup {
  server: FakeModelServer;
  model: ReturnType<typeof createModel>;
  delays: number[];
  fetchCalls: () => number;
}

type Flavour = { provider: ModelConfig["provider"]; model: string };
const flavours: Flavour[] = [
  { provider: "openai", model: "gpt-test" },
  { provider: "anthropic", model: "claude-test" },
  { provider: "openai-compatible", model: "qwen-test" },
];

async function setup(flavour: Flavour, turns: FakeTurn[], deps: CreateModelDeps = {}): Promise<Setup> {
  const server = await startFakeModelServer({ scenario: turns });
  servers.push(server);
  const delays: number[] = [];
  let calls = 0;
  const model = createModel(
    { provider: flavour.provider, model: flavour.model, baseUrl: server.baseUrl, apiKey: "sk-test" },
    {
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
      retry: { idleTimeoutMs: 200 },
      ...deps,
    },
  );
  return { server, model, delays, fetchCalls: () => calls };
}

for (const flavour of flavours) {
  describe(`${flavour.provider} provider over the fake server`, () => {
    test("streams text deltas while the response is still arriving", async () => {
      const { server, model } = await setup(flavour, [{ text: "one two three four five", chunkDelayMs: 60 }]);
      const parts: ModelPart[] = [];
      let endedAtFirstDelta: boolean | undefined;
      for await (const part of model.stream(request())) {
        if (part.type === "text-delta" && endedAtFirstDelta === undefined) {
          endedAtFirstDelta = server.requests[0]?.ended;
        }
        parts.push(part);
      }
      assert.equal(
        endedAtFirstDelta,
        false,
        "the first delta arrived before the server finished the response",
      );
      assert.ok(parts.filter((p) => p.type === "text-delta").length >= 3);
      assert.equal(textOf(parts), "one two three four five");
      assert.deepEqual(parts.at(-1), { type: "finish", reason: "stop" });
      assert.deepEqual(server.failures, []);
    });

    test("a tool call arrives with parsed arguments, followed by usage and finish", async () => {
      const { server, model } = await setup(flavour, [
        {
          expectTools: ["read_file"],
          text: "Let me read it.",
          toolCalls: [{ id: "call_1", name: "read_file", arguments: { path: "src/a.ts" } }],
          usage: { inputTokens: 321, outputTokens: 45, cachedInputTokens: 300 },
        },
      ]);
      const parts = await collect(model.stream(request()));
      const calls = parts.filter((p) => p.type === "tool-call");
      assert.deepEqual(calls, [
        { type: "tool-call", id: "call_1", name: "read_file", args: { path: "src/a.ts" } },
      ]);
      assert.deepEqual(parts.slice(-2), [
        {
          type: "usage",
          usage: { inputTokens: 321, outputTokens: 45, cachedInputTokens: 300, ...reasoningZero(flavour) },
        },
        { type: "finish", reason: "tool-calls" },
      ]);
      assert.deepEqual(server.failures, []);
    });

    test("the request carries the system prompt, the tools' JSON schemas and the previous tool result", async () => {
      const { server, model } = await setup(flavour, [
        { expectMessageContains: ["You are a careful coding agent.", "export const a = 1;"], text: "Done." },
      ]);
      await collect(
        model.stream(
          request({
            messages: [
              { role: "user", content: "Fix the failing test." },
              {
                role: "assistant",
                text: "Reading.",
                toolCalls: [{ id: "call_9", name: "read_file", args: { path: "a.ts" } }],
              },
              {
                role: "tool",
                results: [
                  { callId: "call_9", name: "read_file", output: "export const a = 1;", isError: false },
                ],
              },
            ],
          }),
        ),
      );
      assert.deepEqual(server.failures, []);
      const body = server.requests[0]?.body;
      if (flavour.provider === "anthropic") {
        assert.match(JSON.stringify(body.system), /You are a careful coding agent\./);
        assert.deepEqual(body.tools[0].name, "read_file");
        assert.deepEqual(body.tools[0].input_schema.properties, readFileTool.inputSchema.properties);
        const toolResult = body.messages
          .flatMap((m: WireJson) => (Array.isArray(m.content) ? m.content : []))
          .find((c: WireJson) => c.type === "tool_result");
        assert.equal(toolResult.tool_use_id, "call_9");
        assert.match(JSON.stringify(toolResult.content), /export const a = 1;/);
      } else {
        assert.deepEqual(body.messages[0], { role: "system", content: "You are a careful coding agent." });
        assert.equal(body.tools[0].function.name, "read_file");
        assert.deepEqual(body.tools[0].function.parameters.properties, readFileTool.inputSchema.properties);
        const toolMessage = body.messages.find((m: WireJson) => m.role === "tool");
        assert.equal(toolMessage.tool_call_id, "call_9");
        assert.equal(toolMessage.content, "export const a = 1;");
        assert.equal(body.stream, true);
      }
    });

    test("429 with retry-after: 1 yields a retry part, waits the header's delay and tries again", async () => {
      const { server, model, delays, fetchCalls } = await setup(flavour, [
        { status: 429, retryAfter: 1, errorMessage: "slow down" },
        { text: "Recovered." },
      ]);
      const parts = await collect(model.stream(request()));
      const retry = parts.find((p) => p.type === "retry");
      assert.ok(retry);
      assert.equal(retry.attempt, 1);
      assert.equal(retry.status, 429);
      assert.equal(retry.delayMs, 1000);
      assert.equal(retry.partialDiscarded, false);
      assert.match(retry.reason, /429/);
      assert.deepEqual(delays, [1000]);
      assert.ok(parts.indexOf(retry) < parts.findIndex((p) => p.type === "text-delta"));
      assert.equal(textOf(parts), "|retry|Recovered.");
      assert.equal(fetchCalls(), 2);
      assert.equal(server.remainingTurns(), 0);
    });

    test("500 is retried with jittered backoff", async () => {
      const { model, delays } = await setup(flavour, [{ status: 500 }, { status: 503 }, { text: "ok" }]);
      const parts = await collect(model.stream(request()));
      const retries = parts.filter((p) => p.type === "retry");
      assert.deepEqual(
        retries.map((r) => [r.attempt, r.status]),
        [
          [1, 500],
          [2, 503],
        ],
      );
      // random() = 0.5: half of 500 ms, then half of 1000 ms.
      assert.deepEqual(delays, [250, 500]);
      assert.equal(textOf(parts), "|retry||retry|ok");
    });

    test("a stream that goes silent is ended by the idle timeout and retried; the partial output is discarded", async () => {
      const { server, model } = await setup(flavour, [
        { text: "one two three four", stallAfterChunks: 3 },
        { text: "fresh answer" },
      ]);
      const parts = await collect(model.stream(request()));
      const retry = parts.find((p) => p.type === "retry");
      assert.ok(retry);
      assert.match(retry.reason, /idle timeout/);
      assert.match(retry.reason, /discarded/);
      assert.equal(retry.partialDiscarded, true);
      const afterRetry = parts.slice(parts.indexOf(retry) + 1);
      assert.equal(textOf(afterRetry), "fresh answer");
      assert.ok(
        parts.slice(0, parts.indexOf(retry)).some((p) => p.type === "text-delta"),
        "partial text came first",
      );
      assert.equal(server.requests.length, 2);
    });

    test("a stream cut mid-tool-call is retried as the same turn", async () => {
      const { server, model } = await setup(flavour, [
        {
          text: "Reading.",
          toolCalls: [{ name: "read_file", arguments: { path: "x.ts" } }],
          // cut after the first fragment of the tool call's arguments
          truncateAfterChunks: flavour.provider === "anthropic" ? 6 : 4,
        },
        { text: "Reading.", toolCalls: [{ id: "c2", name: "read_file", arguments: { path: "x.ts" } }] },
      ]);
      const parts = await collect(model.stream(request()));
      const retries = parts.filter((p) => p.type === "retry");
      assert.equal(retries.length, 1);
      assert.match(retries[0]!.reason, /connection broke mid-response \(terminated\)/);
      assert.deepEqual(
        parts.filter((p) => p.type === "tool-call"),
        [{ type: "tool-call", id: "c2", name: "read_file", args: { path: "x.ts" } }],
      );
      assert.equal(server.requests.length, 2);
      // the retry sends the very same conversation again
      assert.deepEqual(server.requests[1]?.body.messages, server.requests[0]?.body.messages);
    });

    test("a stream that ends cleanly but without the provider's completion signal is retried", async () => {
      const { server, model } = await setup(flavour, [
        { text: "one two three four five", endAfterChunks: 4 },
        { text: "complete answer" },
      ]);
      const parts = await collect(model.stream(request()));
      const retry = parts.find((p) => p.type === "retry");
      assert.ok(retry);
      assert.match(retry.reason, /ended (before the answer was complete|without a finish reason)/);
      assert.equal(textOf(parts.slice(parts.indexOf(retry) + 1)), "complete answer");
      assert.equal(server.requests.length, 2);
    });

    test("malformed tool-call JSON yields argsError with the raw text and is not retried", async () => {
      const { server, model } = await setup(flavour, [
        { toolCalls: [{ id: "bad", name: "read_file", argumentsText: '{"path": "a.ts"' }] },
      ]);
      const parts = await collect(model.stream(request()));
      const call = parts.find((p) => p.type === "tool-call");
      assert.ok(call);
      assert.equal(call.id, "bad");
      assert.equal(call.args, '{"path": "a.ts"');
      assert.match(call.argsError ?? "", /not valid JSON/);
      assert.match(call.argsError ?? "", /\{"path": "a\.ts"/);
      assert.ok(!parts.some((p) => p.type === "retry"));
      assert.equal(server.requests.length, 1);
    });

    test("a call to an unknown tool passes through for the engine to answer", async () => {
      const { model } = await setup(flavour, [
        { toolCalls: [{ id: "u", name: "delete_repo", arguments: { now: true } }] },
      ]);
      const parts = await collect(model.stream(request()));
      assert.deepEqual(
        parts.filter((p) => p.type === "tool-call"),
        [{ type: "tool-call", id: "u", name: "delete_repo", args: { now: true } }],
      );
    });

    if (flavour.provider !== "openai") {
      // OpenAI's chat API does not stream reasoning; Anthropic (thinking) and compatible servers
      // (reasoning_content) do.
      test("reasoning streams as reasoning deltas, apart from the answer text", async () => {
        const { model } = await setup(flavour, [
          { reasoning: "The loop bound is off by one.", text: "Fixed." },
        ]);
        const parts = await collect(model.stream(request()));
        const reasoning = parts
          .filter((p) => p.type === "reasoning-delta")
          .map((p) => p.text)
          .join("");
        assert.equal(reasoning, "The loop bound is off by one.");
        assert.equal(textOf(parts), "Fixed.");
      });
    }

    test("401 is not retried and tells the user which key to check", async () => {
      const { server, model } = await setup(flavour, [
        { status: 401, errorMessage: "invalid x-api-key" },
        { text: "never" },
      ]);
      const error = await collect(model.stream(request())).then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(UserError.isInstance(error));
      assert.equal(error.code, "model_auth_failed");
      const variable = {
        openai: "OPENAI_API_KEY",
        anthropic: "ANTHROPIC_API_KEY",
        "openai-compatible": "ENTOURAGE_API_KEY",
      }[flavour.provider as "openai"];
      assert.match(error.message, new RegExp(variable));
      assert.match(error.message, /401/);
      assert.equal(server.requests.length, 1);
    });

    test("an empty answer is retried once, then reported as an error", async () => {
      const { server, model } = await setup(flavour, [{}, {}]);
      const parts: ModelPart[] = [];
      const error = await (async () => {
        for await (const p of model.stream(request())) parts.push(p);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(SystemError.isInstance(error));
      assert.equal(error.code, "empty_response");
      assert.equal(parts.filter((p) => p.type === "retry").length, 1);
      assert.equal(server.requests.length, 2);
    });
  });
}

function reasoningZero(flavour: Flavour) {
  // OpenAI-style usage reports reasoning tokens (0 here); Anthropic's does not break them out.
  return flavour.provider === "anthropic" ? {} : { reasoningTokens: 0 };
}

describe("retry limits, aborts and errors (openai wire)", () => {
  const flavour = flavours[0]!;

  test("after the last attempt a SystemError names the attempts and the last HTTP status", async () => {
    const { model, server } = await setup(flavour, [{ status: 503 }, { status: 502 }, { status: 500 }], {
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
    const { model, delays } = await setup(flavour, [
      { status: 429, retryAfterMs: 1234 },
      { status: 429, retryAfter: 3600 },
      { text: "ok" },
    ]);
    await collect(model.stream(request()));
    assert.deepEqual(delays, [1234, 60_000]);
  });

  test("404 becomes a user error that points at --model and --base-url", async () => {
    const { model } = await setup(flavour, [{ status: 404, errorMessage: "model gpt-test does not exist" }]);
    await assert.rejects(collect(model.stream(request())), (e: unknown) => {
      assert.ok(UserError.isInstance(e));
      assert.equal(e.code, "model_not_found");
      assert.match(e.message, /--model/);
      assert.match(e.message, /--base-url/);
      return true;
    });
  });

  test("400 is not retried", async () => {
    const { model, server } = await setup(flavour, [
      { status: 400, errorMessage: "context too long" },
      { text: "x" },
    ]);
    await assert.rejects(collect(model.stream(request())), (e: unknown) => {
      assert.ok(EntourageError.isInstance(e));
      assert.equal(e.code, "model_request_rejected");
      assert.match(e.message, /context too long/);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  test("aborting during a stalled stream ends the call at once with AbortedError", async () => {
    const { model } = await setup(flavour, [{ text: "a b c d", stallAfterChunks: 2 }], {
      retry: { idleTimeoutMs: 60_000 },
    });
    const controller = new AbortController();
    const parts: ModelPart[] = [];
    const run = (async () => {
      for await (const p of model.stream(request({ signal: controller.signal }))) {
        parts.push(p);
        if (p.type === "text-delta") controller.abort();
      }
    })();
    await assert.rejects(run, (e: unknown) => AbortedError.isInstance(e));
  });

  test("aborting while waiting to retry throws AbortedError and sends no further request", async () => {
    const controller = new AbortController();
    const { model, server } = await setup(flavour, [{ status: 500 }, { text: "never" }], {
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
    const { model, server } = await setup(flavour, [{ text: "a b c d e f", chunkDelayMs: 30 }]);
    for await (const p of model.stream(request())) {
      if (p.type === "text-delta") break;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.requests[0]?.ended, false, "the server never got to finish the response");
  });
});
