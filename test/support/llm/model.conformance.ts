/**
 * The one conformance suite every Model provider must pass, asserting what a user sees through the port
 * (see the contract on `ModelPart`). A provider's initializer builds the model exactly as users get it
 * (`createModel`, its base URL — or only its host — pointing at the fake model server in test/fake-llm/)
 * and says how to read its requests in its own wire format; see test/llm/model-conformance.test.ts.
 *
 * A target without a wire (the scripted model) declares each case that needs HTTP not applicable, with
 * the reason; a declared case still runs, as a test of the limitation (see `NotApplicable`). A case that is
 * neither run nor declared does not exist: an undeclared wire case fails for a target without a wire.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { AbortedError, EntourageError, SystemError, UserError } from "../../../src/core/index.ts";
import type { CreateModelDeps } from "../../../src/llm/create-model.ts";
import type { Model, ModelPart, ModelRequest } from "../../../src/llm/model.ts";
import {
  type FakeModelServer,
  type FakeTurn,
  type RecordedRequest,
  startFakeModelServer,
  type WireApi,
} from "../../fake-llm/index.ts";
import {
  callsOf,
  collect,
  framesThrough,
  inJson,
  readFileTool,
  request,
  retriesOf,
  runCommandTool,
  settle,
  textOf,
  until,
  withinOrHang,
} from "./model.conformance-support.ts";

export const MODEL_CONFORMANCE_CASES = [
  "text-deltas",
  "tool-call",
  "parallel-tool-calls",
  "usage",
  "malformed-arguments",
  "unknown-tool",
  "reasoning",
  "abort-mid-stream",
  "retry-429",
  "retry-500",
  "fail-fast-400",
  "fail-fast-401",
  "idle-timeout",
  "cut-mid-tool-call",
  "ended-early",
  "empty-answer",
  "request-shape",
] as const;
export type ModelConformanceCase = (typeof MODEL_CONFORMANCE_CASES)[number];

/** The key every initializer configures; the request-shape case checks it reached the server. */
export const CONFORMANCE_API_KEY = "sk-conformance-key";

/** A provider's request, read from its own wire format into the port's terms. */
export interface WireRequestView {
  system: string;
  tools: { name: string; description: string; inputSchema: Record<string, unknown> }[];
  userTexts: string[];
  assistantTexts: string[];
  /** The assistant tool calls of the history, in order. */
  toolCalls: { id: string | undefined; name: string; args: unknown }[];
  /** The tool results of the history, in order; `output` is the text the model reads. */
  toolResults: { id: string | undefined; output: string }[];
  /** The key as the server received it (Authorization bearer, x-api-key, x-goog-api-key). */
  apiKey: string | undefined;
  streamed: boolean;
}

export interface ModelConformanceSetup {
  /** The turns to play; a target with a wire gets them through `server`. */
  turns: FakeTurn[];
  /** The fake model server playing `turns`; undefined for a target without a wire. */
  server: FakeModelServer | undefined;
  /** Recorded sleeps, fixed jitter and the retry policy of the case: pass them to `createModel`. */
  deps: Required<Pick<CreateModelDeps, "sleep" | "random" | "retry">>;
}

export interface ModelConformanceTarget {
  /** What `model.provider` must report. */
  provider: string;
  create(setup: ModelConformanceSetup): Model;
  /** How this provider speaks HTTP; omitted for a model without a wire (scripted). */
  wire?: {
    api: WireApi;
    /** The SSE frames the fake server sends for a turn (test/fake-llm/wire.ts), to aim stalls and cuts. */
    frames(turn: FakeTurn): string[];
    read(request: RecordedRequest): WireRequestView;
    /** The variable a 401 must tell the user to check. */
    keyVariable: string;
  };
  /**
   * Cases this target cannot pass, with the reason. Each is still a test — of the limitation itself: a
   * `check` (given the suite's `start`) shows the behaviour the reason describes; without one, the reason
   * must be that the target has no wire, and the test asserts it has none.
   */
  notApplicable?: Partial<Record<ModelConformanceCase, string | NotApplicable>>;
}

export interface NotApplicable {
  reason: string;
  check: (start: (turns: FakeTurn[]) => Promise<{ model: Model }>) => Promise<void>;
}

/** Runs the suite for one provider. `name` labels the describe block, e.g. "anthropic (messages)". */
export function runModelConformance(name: string, target: ModelConformanceTarget): void {
  for (const key of Object.keys(target.notApplicable ?? {})) {
    if (!(MODEL_CONFORMANCE_CASES as readonly string[]).includes(key)) {
      throw new Error(`${name}: notApplicable names "${key}", which is not a model conformance case`);
    }
  }

  describe(`Model conformance: ${name}`, () => {
    const servers: FakeModelServer[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
    });

    interface Started {
      model: Model;
      server: FakeModelServer | undefined;
      delays: number[];
    }

    async function start(turns: FakeTurn[], retry: CreateModelDeps["retry"] = {}): Promise<Started> {
      const server = target.wire ? await startFakeModelServer({ scenario: turns }) : undefined;
      if (server) servers.push(server);
      const delays: number[] = [];
      const model = target.create({
        turns,
        server,
        deps: {
          sleep: async (ms) => {
            delays.push(ms);
          },
          random: () => 0.5,
          // The default idle timeout (60 s): a busy machine must not turn a slow chunk into a retry.
          retry: { ...retry },
        },
      });
      assert.equal(model.provider, target.provider);
      return { model, server, delays };
    }

    function needWire(): NonNullable<ModelConformanceTarget["wire"]> {
      if (!target.wire) {
        throw new Error(
          `${name} has no wire, and this case needs one: declare it in notApplicable with the reason`,
        );
      }
      return target.wire;
    }

    const cases: Record<ModelConformanceCase, { title: string; run: () => Promise<void> }> = {
      "text-deltas": {
        title: "streaming text arrives as several deltas, in order, while the answer is still arriving",
        async run() {
          // Live: the server goes silent after three words and never finishes, so three deltas seen
          // prove they were passed on while the answer was still arriving (no timing involved).
          const live: FakeTurn = { text: "one two three four five" };
          if (target.wire) live.stallAfterChunks = framesThrough(target.wire.frames(live), inJson("three "));
          const first = await start([live], { idleTimeoutMs: 600_000 });
          const early: string[] = [];
          for await (const part of first.model.stream(request())) {
            if (part.type === "text-delta") early.push(part.text);
            if (early.length === 3) break;
          }
          assert.deepEqual(early, ["one ", "two ", "three "]);
          assert.equal(first.server?.requests[0]?.ended ?? false, false);

          // Whole: every delta in order, then usage, then finish.
          const { model, server } = await start([{ text: "one two three four five" }]);
          const parts = await collect(model.stream(request()));
          const deltas = parts.filter((p) => p.type === "text-delta").map((p) => p.text);
          assert.deepEqual(deltas, ["one ", "two ", "three ", "four ", "five"]);
          assert.deepEqual(
            parts.map((p) => p.type),
            ["text-delta", "text-delta", "text-delta", "text-delta", "text-delta", "usage", "finish"],
          );
          assert.deepEqual(parts.at(-1), { type: "finish", reason: "stop" });
          assert.deepEqual(server?.failures ?? [], []);
        },
      },

      "tool-call": {
        title: "a tool call whose arguments stream in fragments arrives as one call with parsed args",
        async run() {
          const args = { path: "src/a.ts", lines: { from: 1, to: 40 } };
          const { model, server } = await start([
            {
              expectTools: ["read_file"],
              text: "Let me read it.",
              toolCalls: [{ id: "call_1", name: "read_file", arguments: args }],
            },
          ]);
          const parts = await collect(model.stream(request()));
          assert.deepEqual(callsOf(parts), [{ type: "tool-call", id: "call_1", name: "read_file", args }]);
          assert.equal(textOf(parts), "Let me read it.");
          assert.deepEqual(parts.at(-1), { type: "finish", reason: "tool-calls" });
          assert.deepEqual(server?.failures ?? [], []);
        },
      },

      "parallel-tool-calls": {
        title: "two tool calls in one turn both arrive, in order, with distinct ids",
        async run() {
          const { model } = await start([
            {
              toolCalls: [
                { name: "read_file", arguments: { path: "a.ts" } },
                { name: "run_command", arguments: { command: "npm test" } },
              ],
            },
          ]);
          const calls = callsOf(
            await collect(model.stream(request({ tools: [readFileTool, runCommandTool] }))),
          );
          assert.deepEqual(
            calls.map((c) => [c.name, c.args]),
            [
              ["read_file", { path: "a.ts" }],
              ["run_command", { command: "npm test" }],
            ],
          );
          const ids = calls.map((c) => c.id);
          assert.ok(
            ids.every((id) => typeof id === "string" && id.length > 0),
            `ids: ${ids}`,
          );
          assert.equal(new Set(ids).size, 2, `the two calls share an id: ${ids}`);
        },
      },

      usage: {
        title: "usage (input, output and cached input tokens) is reported once, before finish",
        async run() {
          const { model } = await start([
            { text: "ok", usage: { inputTokens: 321, outputTokens: 45, cachedInputTokens: 300 } },
          ]);
          const parts = await collect(model.stream(request()));
          const usages = parts.filter((p) => p.type === "usage");
          assert.equal(usages.length, 1);
          const { inputTokens, outputTokens, cachedInputTokens } = usages[0]!.usage;
          assert.deepEqual(
            { inputTokens, outputTokens, cachedInputTokens },
            {
              inputTokens: 321,
              outputTokens: 45,
              cachedInputTokens: 300,
            },
          );
          assert.deepEqual(
            parts.slice(-2).map((p) => p.type),
            ["usage", "finish"],
          );
        },
      },

      "malformed-arguments": {
        title: "malformed tool-call JSON arrives as a tool call with argsError and the raw text, not retried",
        async run() {
          const raw = '{"path": "a.ts"';
          const { model, server } = await start([
            { toolCalls: [{ id: "bad", name: "read_file", argumentsText: raw }] },
          ]);
          const parts = await collect(model.stream(request()));
          const [call] = callsOf(parts);
          assert.ok(call, "no tool call arrived");
          assert.equal(call.id, "bad");
          assert.equal(call.args, raw);
          assert.match(call.argsError ?? "", /not valid JSON/);
          assert.ok(call.argsError?.includes(raw), `argsError lacks the raw text: ${call.argsError}`);
          assert.deepEqual(retriesOf(parts), []);
          if (server) assert.equal(server.requests.length, 1);
        },
      },

      "unknown-tool": {
        title: "a call to a tool that was not offered passes through for the engine to answer",
        async run() {
          const { model } = await start([
            { toolCalls: [{ id: "u", name: "delete_repo", arguments: { now: true } }] },
          ]);
          const parts = await collect(model.stream(request()));
          assert.deepEqual(callsOf(parts), [
            { type: "tool-call", id: "u", name: "delete_repo", args: { now: true } },
          ]);
        },
      },

      reasoning: {
        title: "reasoning streams as reasoning deltas, apart from the answer text",
        async run() {
          const { model } = await start([{ reasoning: "The loop bound is off by one.", text: "Fixed." }]);
          const parts = await collect(model.stream(request()));
          const reasoning = parts.filter((p) => p.type === "reasoning-delta").map((p) => p.text);
          assert.ok(reasoning.length >= 2, `reasoning deltas: ${JSON.stringify(reasoning)}`);
          assert.equal(reasoning.join(""), "The loop bound is off by one.");
          assert.equal(textOf(parts), "Fixed.");
        },
      },

      "abort-mid-stream": {
        title: "an abort mid-stream ends the stream promptly with AbortedError, no unhandled rejection",
        async run() {
          const turn: FakeTurn = { text: "a b c d e f" };
          // Stall right after the first text delta, with an idle timeout far beyond the test.
          if (target.wire) turn.stallAfterChunks = framesThrough(target.wire.frames(turn), inJson("a "));
          const { model, server } = await start([turn], { idleTimeoutMs: 600_000 });
          const unhandled: unknown[] = [];
          const onUnhandled = (reason: unknown) => unhandled.push(reason);
          process.on("unhandledRejection", onUnhandled);
          try {
            const controller = new AbortController();
            const seen: ModelPart[] = [];
            const run = settle(
              (async function* () {
                for await (const part of model.stream(request({ signal: controller.signal }))) {
                  seen.push(part);
                  if (part.type === "text-delta") controller.abort(new Error("the user pressed stop"));
                  yield part;
                }
              })(),
            );
            const { error } = await withinOrHang(run, "the aborted stream");
            assert.ok(AbortedError.isInstance(error), `expected AbortedError, got ${String(error)}`);
            assert.deepEqual(
              seen.map((p) => p.type),
              ["text-delta"],
              "nothing may follow the abort",
            );
            if (server) {
              await until(
                () => server.requests[0]?.closed === true,
                "the connection to close after the abort",
              );
              assert.equal(server.requests[0]?.ended, false, "the stalled answer cannot have completed");
              assert.equal(server.requests.length, 1, "an aborted call is not retried");
            }
            // Give a stray rejection from the torn-down request two turns of the event loop to surface.
            await new Promise((resolve) => setImmediate(resolve));
            await new Promise((resolve) => setTimeout(resolve, 20));
            assert.deepEqual(unhandled, []);
          } finally {
            process.off("unhandledRejection", onUnhandled);
          }
        },
      },

      "retry-429": {
        title: "HTTP 429 with retry-after yields a retry part, waits the header's delay, then succeeds",
        async run() {
          needWire();
          const { model, server, delays } = await start([
            { status: 429, retryAfter: 1, errorMessage: "slow down" },
            { text: "Recovered." },
          ]);
          const parts = await collect(model.stream(request()));
          const [retry, ...more] = retriesOf(parts);
          assert.ok(retry, "no retry part");
          assert.deepEqual(more, []);
          assert.deepEqual(
            {
              attempt: retry.attempt,
              status: retry.status,
              delayMs: retry.delayMs,
              partial: retry.partialDiscarded,
            },
            { attempt: 1, status: 429, delayMs: 1000, partial: false },
          );
          assert.match(retry.reason, /HTTP 429/);
          assert.deepEqual(delays, [1000]);
          assert.equal(textOf(parts), "|retry|Recovered.");
          assert.equal(parts.at(-1)?.type, "finish");
          assert.equal(server?.requests.length, 2);
          assert.deepEqual(
            server?.requests[1]?.body,
            server?.requests[0]?.body,
            "the retry resends the same request",
          );
        },
      },

      "retry-500": {
        title: "HTTP 500 and 503 are retried with jittered backoff, then the answer arrives",
        async run() {
          needWire();
          const { model, server, delays } = await start([{ status: 500 }, { status: 503 }, { text: "ok" }]);
          const parts = await collect(model.stream(request()));
          assert.deepEqual(
            retriesOf(parts).map((r) => [r.attempt, r.status]),
            [
              [1, 500],
              [2, 503],
            ],
          );
          assert.deepEqual(delays, [250, 500], "random() = 0.5: half of 500 ms, then half of 1000 ms");
          assert.equal(textOf(parts), "|retry||retry|ok");
          assert.equal(server?.remainingTurns(), 0);
        },
      },

      "fail-fast-400": {
        title: "HTTP 400 fails at once with an EntourageError naming the provider and what to do",
        async run() {
          needWire();
          const { model, server } = await start([
            { status: 400, errorMessage: "prompt is too long: 250000 tokens" },
            { text: "never" },
          ]);
          const { parts, error } = await settle(model.stream(request()));
          assert.ok(EntourageError.isInstance(error), `expected an EntourageError, got ${String(error)}`);
          assert.equal(error.code, "model_request_rejected");
          assert.ok(
            error.message.includes(target.provider),
            `the message does not name ${target.provider}: ${error.message}`,
          );
          assert.match(error.message, /prompt is too long: 250000 tokens/);
          assert.match(error.message, /--model|resume|fork/, "the message says what to do");
          assert.deepEqual(retriesOf(parts), []);
          assert.equal(server?.requests.length, 1);
        },
      },

      "fail-fast-401": {
        title: "HTTP 401 fails at once with a UserError naming the provider and the key to check",
        async run() {
          const wire = needWire();
          const { model, server } = await start([
            { status: 401, errorMessage: "invalid api key" },
            { text: "never" },
          ]);
          const { parts, error } = await settle(model.stream(request()));
          assert.ok(UserError.isInstance(error), `expected a UserError, got ${String(error)}`);
          assert.equal(error.code, "model_auth_failed");
          assert.ok(
            error.message.includes(target.provider),
            `the message does not name ${target.provider}: ${error.message}`,
          );
          assert.ok(
            error.message.includes(wire.keyVariable),
            `the message does not name ${wire.keyVariable}: ${error.message}`,
          );
          assert.match(error.message, /--api-key/);
          assert.match(error.message, /401/);
          assert.deepEqual(retriesOf(parts), []);
          assert.equal(server?.requests.length, 1);
        },
      },

      "idle-timeout": {
        title: "a stream that stalls hits the idle timeout and is retried; the partial output is discarded",
        async run() {
          const wire = needWire();
          const stalled: FakeTurn = { text: "one two three four" };
          stalled.stallAfterChunks = framesThrough(wire.frames(stalled), inJson("one "));
          // 1 s of silence ends the stall. Spare good turns keep a slow machine (a good answer that also
          // paused for 1 s) from exhausting the scenario; what is asserted is the stalled attempt's fate.
          const fresh: FakeTurn = { text: "fresh answer" };
          const { model, server } = await start([stalled, fresh, fresh, fresh], { idleTimeoutMs: 1000 });
          const parts = await collect(model.stream(request()));
          const [retry] = retriesOf(parts);
          assert.ok(retry, "no retry part");
          assert.match(retry.reason, /idle timeout/);
          assert.match(retry.reason, /discarded/);
          assert.equal(retry.partialDiscarded, true);
          assert.equal(retry.status, undefined);
          assert.equal(textOf(parts.slice(0, parts.indexOf(retry))), "one ", "the partial text came first");
          const lastRetry = retriesOf(parts).at(-1)!;
          assert.equal(textOf(parts.slice(parts.indexOf(lastRetry) + 1)), "fresh answer");
          assert.equal(server?.requests[0]?.ended, false, "the stalled answer cannot have completed");
          assert.deepEqual(
            server?.requests[1]?.body,
            server?.requests[0]?.body,
            "the retry resends the same request",
          );
        },
      },

      "cut-mid-tool-call": {
        title: "a stream cut mid-tool-call is retried as the same turn; the half call never surfaces",
        async run() {
          const wire = needWire();
          const args = { path: "x.ts", lines: { from: 3, to: 9 } };
          const cut: FakeTurn = {
            text: "Reading.",
            toolCalls: [{ id: "c1", name: "read_file", arguments: args }],
          };
          // After the first fragment of the arguments; Gemini sends a call whole, so right after the call.
          const firstFragment = JSON.stringify(args).slice(0, Math.floor(JSON.stringify(args).length / 3));
          cut.truncateAfterChunks = framesThrough(wire.frames(cut), inJson(firstFragment), '"read_file"');
          const { model, server } = await start([
            cut,
            { text: "Reading.", toolCalls: [{ id: "c2", name: "read_file", arguments: args }] },
          ]);
          const parts = await collect(model.stream(request()));
          const retries = retriesOf(parts);
          assert.equal(retries.length, 1, JSON.stringify(retries));
          assert.match(
            retries[0]!.reason,
            /connection broke mid-response|ended before the answer was complete/,
          );
          assert.deepEqual(callsOf(parts), [{ type: "tool-call", id: "c2", name: "read_file", args }]);
          assert.equal(textOf(parts.slice(parts.indexOf(retries[0]!) + 1)), "Reading.");
          assert.equal(server?.requests.length, 2);
          assert.deepEqual(
            server?.requests[1]?.body,
            server?.requests[0]?.body,
            "the retry resends the same request",
          );
        },
      },

      "ended-early": {
        title: "a stream that ends cleanly without the provider's completion signal is retried",
        async run() {
          const wire = needWire();
          const early: FakeTurn = { text: "one two three four five" };
          early.endAfterChunks = framesThrough(wire.frames(early), inJson("two "));
          const { model, server } = await start([early, { text: "complete answer" }]);
          const parts = await collect(model.stream(request()));
          const [retry] = retriesOf(parts);
          assert.ok(retry, "no retry part");
          assert.match(retry.reason, /ended before the answer was complete/);
          assert.equal(retry.partialDiscarded, true);
          assert.equal(textOf(parts.slice(parts.indexOf(retry) + 1)), "complete answer");
          assert.equal(server?.requests.length, 2);
        },
      },

      "empty-answer": {
        title: "an empty answer is retried once, then reported as an empty_response error",
        async run() {
          const { model, server } = await start([{}, {}]);
          const { parts, error } = await settle(model.stream(request()));
          assert.ok(SystemError.isInstance(error), `expected a SystemError, got ${String(error)}`);
          assert.equal(error.code, "empty_response");
          assert.ok(error.message.includes(target.provider));
          assert.equal(retriesOf(parts).length, 1);
          if (server) assert.equal(server.requests.length, 2);
        },
      },

      "request-shape": {
        title: "the request carries the system prompt, the tools' JSON schemas, the key and the history",
        async run() {
          const wire = needWire();
          const { model, server } = await start([
            {
              expectTools: ["read_file", "run_command"],
              expectMessageContains: ["You are a careful coding agent.", "export const a = 1;", "1 failing"],
              text: "Done.",
            },
          ]);
          const sent: ModelRequest = request({
            tools: [readFileTool, runCommandTool],
            messages: [
              { role: "user", content: "Fix the failing test." },
              {
                role: "assistant",
                text: "Reading the code and running the tests.",
                toolCalls: [
                  { id: "call_9", name: "read_file", args: { path: "a.ts", lines: { from: 1, to: 2 } } },
                  { id: "call_10", name: "run_command", args: { command: "npm test" } },
                ],
              },
              {
                role: "tool",
                results: [
                  { callId: "call_9", name: "read_file", output: "export const a = 1;", isError: false },
                  { callId: "call_10", name: "run_command", output: "1 failing", isError: true },
                ],
              },
              { role: "user", content: "Mind the time zone." },
            ],
          });
          await collect(model.stream(sent));
          assert.deepEqual(server?.failures, []);
          const recorded = server?.requests[0];
          assert.ok(recorded);
          assert.equal(recorded.api, wire.api);
          const view = wire.read(recorded);
          assert.equal(view.system, sent.system);
          assert.equal(view.apiKey, CONFORMANCE_API_KEY);
          assert.equal(view.streamed, true);
          assert.deepEqual(
            view.tools.map((t) => ({
              name: t.name,
              description: t.description,
              ...schemaCore(t.inputSchema),
            })),
            sent.tools.map((t) => ({
              name: t.name,
              description: t.description,
              ...schemaCore(t.inputSchema),
            })),
          );
          assert.deepEqual(view.userTexts, ["Fix the failing test.", "Mind the time zone."]);
          assert.deepEqual(view.assistantTexts, ["Reading the code and running the tests."]);
          assert.deepEqual(view.toolCalls, [
            { id: "call_9", name: "read_file", args: { path: "a.ts", lines: { from: 1, to: 2 } } },
            { id: "call_10", name: "run_command", args: { command: "npm test" } },
          ]);
          assert.deepEqual(
            view.toolResults.map((r) => r.id),
            ["call_9", "call_10"],
          );
          assert.match(view.toolResults[0]!.output, /export const a = 1;/);
          assert.match(view.toolResults[1]!.output, /1 failing/);
        },
      },
    };

    for (const id of MODEL_CONFORMANCE_CASES) {
      const { title, run } = cases[id];
      const declared = target.notApplicable?.[id];
      if (declared === undefined) {
        it(`[${id}] ${title}`, run);
        continue;
      }
      const { reason, check } =
        typeof declared === "string" ? { reason: declared, check: undefined } : declared;
      it(`[${id}] not applicable to ${name}, and it is so: ${reason}`, async () => {
        if (check) return check(start);
        assert.equal(
          target.wire,
          undefined,
          `${name} declares "${id}" not applicable for want of a wire, yet has one`,
        );
      });
    }
  });
}

/** The parts of a JSON schema every provider must pass on unchanged (some add `$schema` or `strict`). */
function schemaCore(schema: Record<string, unknown>) {
  return { type: schema.type, properties: schema.properties, required: schema.required };
}
