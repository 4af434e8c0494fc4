/**
 * The Model conformance suite (test/support/llm/model.conformance.ts) against every provider over real HTTP,
 * through the fake model server. Each initializer builds the model with `createModel`, as the CLI does,
 * and reads that provider's requests in its own wire format.
 *
 * `provider: openai` calls the Responses API when no base URL is given (what OpenAI users get) and chat
 * completions with one (proxies, local servers): both run. The Responses target keeps the user's config
 * (no base URL) and only redirects the SDK's requests for https://api.openai.com/v1 to the fake server
 * through the injected `fetch`.
 */

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ModelPart } from "../../src/llm/index.ts";
import {
  createModel,
  createScriptedModel,
  defaultModels,
  type ModelConfig,
  type ScriptedTurn,
} from "../../src/llm/index.ts";
import type { FakeTurn, RecordedRequest } from "../fake-llm/index.ts";
import { startFakeModelServer } from "../fake-llm/index.ts";
import {
  anthropicAnswer,
  googleAnswer,
  openaiAnswer,
  openaiResponsesAnswer,
  type WireAnswer,
  type WireContext,
} from "../fake-llm/wire.ts";
import {
  CONFORMANCE_API_KEY,
  type ModelConformanceSetup,
  type ModelConformanceTarget,
  runModelConformance,
  type WireRequestView,
} from "../support/llm/model.conformance.ts";
import { collect, request } from "../support/llm/model.conformance-support.ts";

// biome-ignore lint/suspicious/noExplicitAny: recorded request bodies are arbitrary provider JSON
type Json = any;

const frames =
  (encode: (turn: FakeTurn, ctx: WireContext) => WireAnswer, includeUsage = true) =>
  (turn: FakeTurn) =>
    encode(turn, { turnIndex: 0, model: "m", includeUsage }).frames;

const bearer = (r: RecordedRequest) =>
  String(r.headers.authorization ?? "").replace(/^Bearer /, "") || undefined;
const header = (r: RecordedRequest, name: string) => {
  const value = r.headers[name];
  return typeof value === "string" ? value : undefined;
};
const textParts = (content: Json): string =>
  typeof content === "string"
    ? content
    : (Array.isArray(content) ? content : [])
        .filter((p: Json) => typeof p?.text === "string")
        .map((p: Json) => p.text)
        .join("");
const stringify = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function viaBaseUrl(provider: ModelConfig["provider"], model: string) {
  return ({ server, deps }: ModelConformanceSetup) =>
    createModel({ provider, model, baseUrl: server?.baseUrl, apiKey: CONFORMANCE_API_KEY }, deps);
}

/** OpenAI chat completions, also the wire of the openai-compatible provider. */
function readChatCompletions(r: RecordedRequest): WireRequestView {
  const messages: Json[] = r.body.messages ?? [];
  return {
    // Reasoning models (gpt-5.x, o-series) take the system prompt as a `developer` message.
    system: messages
      .filter((m) => m.role === "system" || m.role === "developer")
      .map((m) => textParts(m.content))
      .join("\n"),
    tools: (r.body.tools ?? []).map((t: Json) => ({
      name: t.function.name,
      description: t.function.description,
      inputSchema: t.function.parameters,
    })),
    userTexts: messages.filter((m) => m.role === "user").map((m) => textParts(m.content)),
    assistantTexts: messages
      .filter((m) => m.role === "assistant" && m.content)
      .map((m) => textParts(m.content)),
    toolCalls: messages
      .filter((m) => m.role === "assistant")
      .flatMap((m) => m.tool_calls ?? [])
      .map((c: Json) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) })),
    toolResults: messages
      .filter((m) => m.role === "tool")
      .map((m) => ({ id: m.tool_call_id, output: textParts(m.content) })),
    apiKey: bearer(r),
    streamed: r.body.stream === true,
  };
}

function readAnthropic(r: RecordedRequest): WireRequestView {
  const messages: Json[] = r.body.messages ?? [];
  const blocks = (role: string, type: string) =>
    messages
      .filter((m) => m.role === role)
      .flatMap((m) => (Array.isArray(m.content) ? m.content : [{ type: "text", text: m.content }]))
      .filter((b: Json) => b.type === type);
  return {
    system: textParts(r.body.system),
    tools: (r.body.tools ?? []).map((t: Json) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.input_schema,
    })),
    userTexts: blocks("user", "text").map((b: Json) => b.text),
    assistantTexts: blocks("assistant", "text").map((b: Json) => b.text),
    toolCalls: blocks("assistant", "tool_use").map((b: Json) => ({ id: b.id, name: b.name, args: b.input })),
    toolResults: blocks("user", "tool_result").map((b: Json) => ({
      id: b.tool_use_id,
      output: `${textParts(b.content)}${b.is_error ? " (is_error)" : ""}`,
    })),
    apiKey: header(r, "x-api-key"),
    streamed: r.body.stream === true,
  };
}

function readGoogle(r: RecordedRequest): WireRequestView {
  const contents: Json[] = r.body.contents ?? [];
  const parts = (role: string) => contents.filter((c) => c.role === role).flatMap((c) => c.parts ?? []);
  return {
    system: textParts(r.body.systemInstruction?.parts),
    tools: (r.body.tools ?? [])
      .flatMap((t: Json) => t.functionDeclarations ?? [])
      .map((d: Json) => ({
        name: d.name,
        description: d.description,
        inputSchema: d.parametersJsonSchema ?? d.parameters,
      })),
    userTexts: parts("user")
      .filter((p: Json) => typeof p.text === "string")
      .map((p: Json) => p.text),
    assistantTexts: parts("model")
      .filter((p: Json) => typeof p.text === "string")
      .map((p: Json) => p.text),
    toolCalls: parts("model")
      .filter((p: Json) => p.functionCall)
      .map((p: Json) => ({ id: p.functionCall.id, name: p.functionCall.name, args: p.functionCall.args })),
    toolResults: parts("user")
      .filter((p: Json) => p.functionResponse)
      .map((p: Json) => {
        // A failed tool's result goes back as `response.error`, a successful one as `response.content`.
        const { content, error } = p.functionResponse.response ?? {};
        const output = error !== undefined ? `error: ${stringify(error)}` : stringify(content);
        return { id: p.functionResponse.id, output };
      }),
    apiKey: header(r, "x-goog-api-key"),
    streamed: r.path.endsWith(":streamGenerateContent"),
  };
}

function readResponses(r: RecordedRequest): WireRequestView {
  const input: Json[] = r.body.input ?? [];
  return {
    system: [
      ...(typeof r.body.instructions === "string" ? [r.body.instructions] : []),
      ...input.filter((i) => i.role === "system" || i.role === "developer").map((i) => textParts(i.content)),
    ].join("\n"),
    tools: (r.body.tools ?? [])
      .filter((t: Json) => t.type === "function")
      .map((t: Json) => ({ name: t.name, description: t.description, inputSchema: t.parameters })),
    userTexts: input.filter((i) => i.role === "user").map((i) => textParts(i.content)),
    assistantTexts: input.filter((i) => i.role === "assistant").map((i) => textParts(i.content)),
    toolCalls: input
      .filter((i) => i.type === "function_call")
      .map((i) => ({ id: i.call_id, name: i.name, args: JSON.parse(i.arguments) })),
    toolResults: input
      .filter((i) => i.type === "function_call_output")
      .map((i) => ({ id: i.call_id, output: typeof i.output === "string" ? i.output : textParts(i.output) })),
    apiKey: bearer(r),
    streamed: r.body.stream === true,
  };
}

const openaiChat: ModelConformanceTarget = {
  provider: "openai",
  create: viaBaseUrl("openai", defaultModels.openai),
  wire: {
    api: "openai",
    frames: frames(openaiAnswer),
    read: readChatCompletions,
    keyVariable: "OPENAI_API_KEY",
  },
  notApplicable: {
    reasoning: {
      reason: "OpenAI's chat completions API does not stream reasoning (only its token count)",
      // The reasoning the server has is dropped, never mixed into the answer.
      async check(start) {
        const { model } = await start([{ reasoning: "The loop bound is off by one.", text: "Fixed." }]);
        const parts = await collect(model.stream(request()));
        assert.deepEqual(
          parts.filter((p) => p.type === "reasoning-delta"),
          [],
        );
        assert.equal(parts.map((p) => (p.type === "text-delta" ? p.text : "")).join(""), "Fixed.");
      },
    },
  },
};

const openaiResponses: ModelConformanceTarget = {
  provider: "openai",
  create: ({ server, deps }) => {
    const target = server?.baseUrl ?? "";
    return createModel(
      { provider: "openai", model: defaultModels.openai, apiKey: CONFORMANCE_API_KEY },
      {
        ...deps,
        fetch: (input, init) => {
          const url = input instanceof Request ? input.url : String(input);
          if (!url.startsWith("https://api.openai.com/v1/")) {
            throw new Error(`the Responses target only redirects api.openai.com, not ${url}`);
          }
          return fetch(target + url.slice("https://api.openai.com/v1".length), init);
        },
      },
    );
  },
  wire: {
    api: "openai-responses",
    frames: frames(openaiResponsesAnswer),
    read: readResponses,
    keyVariable: "OPENAI_API_KEY",
  },
};

const anthropic: ModelConformanceTarget = {
  provider: "anthropic",
  create: viaBaseUrl("anthropic", defaultModels.anthropic),
  wire: {
    api: "anthropic",
    frames: frames(anthropicAnswer),
    read: readAnthropic,
    keyVariable: "ANTHROPIC_API_KEY",
  },
};

const google: ModelConformanceTarget = {
  provider: "google",
  create: viaBaseUrl("google", defaultModels.google),
  wire: {
    api: "google",
    frames: frames(googleAnswer),
    read: readGoogle,
    keyVariable: "GOOGLE_GENERATIVE_AI_API_KEY",
  },
};

const openaiCompatible: ModelConformanceTarget = {
  provider: "openai-compatible",
  create: viaBaseUrl("openai-compatible", "qwen2.5-coder"),
  wire: {
    api: "openai",
    frames: frames(openaiAnswer),
    read: readChatCompletions,
    keyVariable: "ENTOURAGE_API_KEY",
  },
};

const noWire = "the scripted model makes no HTTP request";
const scripted: ModelConformanceTarget = {
  provider: "scripted",
  create: ({ turns }) => createScriptedModel({ turns: turns.map(toScriptedTurn) }),
  notApplicable: {
    "retry-429": noWire,
    "retry-500": noWire,
    "fail-fast-400": noWire,
    "fail-fast-401": noWire,
    "idle-timeout": noWire,
    "cut-mid-tool-call": noWire,
    "ended-early": noWire,
    "request-shape": noWire,
    "empty-answer": {
      reason:
        "the script is the answer: an empty scripted turn is replayed as written (a script bug, not a model's)",
      async check(start) {
        const { model } = await start([{}]);
        const parts = await collect(model.stream(request()));
        assert.ok(
          !parts.some((p) => p.type === "retry" || p.type === "text-delta" || p.type === "tool-call"),
        );
      },
    },
  },
};

/** The scenario fields the scripted model shares with the fake server (the rest are HTTP faults). */
function toScriptedTurn(turn: FakeTurn): ScriptedTurn {
  const { text, textChunks, reasoning, toolCalls, usage } = turn;
  return {
    ...(text !== undefined ? { text } : {}),
    ...(textChunks ? { textChunks } : {}),
    ...(reasoning !== undefined ? { reasoning } : {}),
    ...(toolCalls ? { toolCalls } : {}),
    ...(usage ? { usage } : {}),
  };
}

runModelConformance("openai (Responses API: no base URL, what OpenAI users get)", openaiResponses);
runModelConformance("openai (chat completions: with --base-url)", openaiChat);
runModelConformance("anthropic (messages)", anthropic);
runModelConformance("google (Gemini streamGenerateContent)", google);
runModelConformance("openai-compatible (Ollama, vLLM, llama.cpp)", openaiCompatible);
runModelConformance("scripted (no wire)", scripted);

describe("google: what only the Gemini wire does", () => {
  test("a MALFORMED_FUNCTION_CALL finish (no call, no error body) is retried, then the answer arrives", async () => {
    const server = await startFakeModelServer({
      scenario: [
        { finishReason: "MALFORMED_FUNCTION_CALL" },
        { toolCalls: [{ id: "ok", name: "read_file", arguments: { path: "a.ts" } }] },
      ],
    });
    after(() => server.close());
    const model = createModel(
      {
        provider: "google",
        model: defaultModels.google,
        baseUrl: server.baseUrl,
        apiKey: CONFORMANCE_API_KEY,
      },
      { sleep: async () => {}, random: () => 0.5 },
    );
    const parts: ModelPart[] = [];
    for await (const part of model.stream({
      system: "You are a careful coding agent.",
      messages: [{ role: "user", content: "Read a.ts." }],
      tools: [
        {
          name: "read_file",
          description: "Read a file.",
          inputSchema: { type: "object", properties: { path: { type: "string" } } },
        },
      ],
    }))
      parts.push(part);
    const retries = parts.filter((p) => p.type === "retry");
    assert.equal(retries.length, 1);
    assert.match(retries[0]!.reason, /MALFORMED_FUNCTION_CALL/);
    assert.deepEqual(
      parts.filter((p) => p.type === "tool-call"),
      [{ type: "tool-call", id: "ok", name: "read_file", args: { path: "a.ts" } }],
    );
    assert.equal(server.requests.length, 2);
  });
});
