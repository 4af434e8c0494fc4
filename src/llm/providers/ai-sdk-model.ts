import type { LanguageModel, LanguageModelUsage, TextStreamPart, ToolSet } from "ai";
import { AbortedError, SystemError, type Usage } from "../../core/index.ts";
import type { Model, ModelPart, ModelRequest } from "../model.ts";
import { defaultRetryPolicy, type RetryPolicy, realSleep, retryDelay, type Sleep } from "../retry.ts";
import {
  type AttemptFailure,
  classifyError,
  exhaustedError,
  type FailureContext,
  finalError,
} from "./failure.ts";
import { toSdkMessages, toSdkTools } from "./messages.ts";

export interface AiSdkModelOptions {
  provider: string;
  id: string;
  baseUrl?: string;
  /** Builds the AI SDK model; called once, on the first request, so importing this module stays cheap. */
  languageModel: () => Promise<LanguageModel>;
  keyVariables?: readonly string[];
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

type Sdk = Pick<typeof import("ai"), "streamText" | "tool" | "jsonSchema">;
let sdkPromise: Promise<Sdk> | undefined;
const loadSdk = () => {
  // The SDK prints call warnings (e.g. "model unknown, maxOutputTokens limited") to stderr, which would
  // tear through the terminal view. Off unless the embedding program chose otherwise.
  if (globalThis.AI_SDK_LOG_WARNINGS === undefined) globalThis.AI_SDK_LOG_WARNINGS = false;
  sdkPromise ??= import("ai");
  return sdkPromise;
};

type Outcome = { ok: true } | { ok: false; failure: AttemptFailure };

/**
 * A Model over the AI SDK's `streamText`: one SDK step per `stream` call, tools as schemas only, and
 * retries done here rather than in the SDK (`maxRetries: 0`) so each one is visible as a `retry` part
 * and idle or cut streams are retried too. See the contract on `ModelPart`.
 */
export class AiSdkModel implements Model {
  readonly provider: string;
  readonly id: string;
  readonly scripted = false;
  readonly #options: AiSdkModelOptions;
  readonly #policy: RetryPolicy;
  readonly #ctx: FailureContext;
  #languageModel: Promise<LanguageModel> | undefined;

  constructor(options: AiSdkModelOptions) {
    this.provider = options.provider;
    this.id = options.id;
    this.#options = options;
    this.#policy = { ...defaultRetryPolicy, ...options.retry };
    this.#ctx = {
      provider: options.provider,
      model: options.id,
      keyVariables: options.keyVariables ?? [],
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    };
  }

  warmUp(): void {
    loadSdk().catch(() => {});
    this.#languageModel ??= this.#options.languageModel();
    this.#languageModel.catch(() => {});
  }

  async *stream(request: ModelRequest): AsyncGenerator<ModelPart> {
    const { signal } = request;
    throwIfAborted(signal);
    const sdk = await loadSdk();
    this.#languageModel ??= this.#options.languageModel();
    const model = await this.#languageModel;
    throwIfAborted(signal);
    const tools = toSdkTools(request.tools, sdk);
    const messages = toSdkMessages(request.messages);
    const sleep = this.#options.sleep ?? realSleep;
    const random = this.#options.random ?? Math.random;
    let emptyAnswers = 0;

    for (let attempt = 1; ; attempt++) {
      const progress = { yieldedDeltas: false };
      const outcome: Outcome = yield* this.#attempt(sdk, model, tools, messages, request, progress);
      if (outcome.ok) return;
      const { failure } = outcome;
      if (!failure.retryable) throw finalError(failure, this.#ctx);
      if (failure.empty && ++emptyAnswers > 1) {
        throw new SystemError(
          "empty_response",
          `The ${this.provider} model "${this.id}" returned an empty answer (no text, no tool calls) twice in a row. ` +
            "The conversation may have confused it, or the server may be misconfigured; try another model or resume the run.",
        );
      }
      if (attempt >= this.#policy.maxAttempts) throw exhaustedError(attempt, failure, this.#ctx);
      const delayMs = retryDelay(attempt, failure.retryAfterMs, this.#policy, random);
      yield {
        type: "retry",
        attempt,
        delayMs,
        reason: progress.yieldedDeltas
          ? `${failure.reason}; the partial output of this attempt is discarded`
          : failure.reason,
        ...(failure.status !== undefined ? { status: failure.status } : {}),
        partialDiscarded: progress.yieldedDeltas,
      };
      throwIfAborted(signal);
      try {
        await sleep(delayMs, signal);
      } catch (error) {
        if (signal?.aborted)
          throw new AbortedError("aborted while waiting to retry the model", { cause: error });
        throw error;
      }
      throwIfAborted(signal);
    }
  }

  /** One HTTP request. Yields deltas live; returns how it ended instead of throwing retryable failures. */
  async *#attempt(
    sdk: Sdk,
    model: LanguageModel,
    tools: ToolSet | undefined,
    messages: ReturnType<typeof toSdkMessages>,
    request: ModelRequest,
    progress: { yieldedDeltas: boolean },
  ): AsyncGenerator<ModelPart, Outcome> {
    const { signal } = request;
    const controller = new AbortController();
    const forwardAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", forwardAbort, { once: true });
    const idleMs = this.#policy.idleTimeoutMs;
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    // The idle clock runs only while we wait for the provider, not while the consumer handles a part.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort(new Error(`no data from the model for ${idleMs} ms`));
      }, idleMs);
    };
    const disarm = () => clearTimeout(timer);

    const toolCalls: Extract<ModelPart, { type: "tool-call" }>[] = [];
    let text = "";
    let usage: LanguageModelUsage | undefined;
    let finishReason: string | undefined;
    let rawFinishReason: string | undefined;
    let finished = false;
    let streamError: unknown;

    try {
      arm();
      const result = sdk.streamText({
        model,
        instructions: request.system,
        messages,
        ...(tools ? { tools } : {}),
        maxRetries: 0,
        abortSignal: controller.signal,
        ...(request.maxOutputTokens !== undefined ? { maxOutputTokens: request.maxOutputTokens } : {}),
        // Errors arrive as `error` parts; without this the SDK also prints them with console.error.
        onError: () => {},
      });
      for await (const part of result.fullStream as AsyncIterable<TextStreamPart<ToolSet>>) {
        disarm();
        switch (part.type) {
          case "text-delta":
            if (part.text) {
              text += part.text;
              progress.yieldedDeltas = true;
              yield { type: "text-delta", text: part.text };
            }
            break;
          case "reasoning-delta":
            if (part.text) {
              progress.yieldedDeltas = true;
              yield { type: "reasoning-delta", text: part.text };
            }
            break;
          case "tool-call":
            toolCalls.push(toToolCallPart(part));
            break;
          case "finish-step":
            usage = part.usage;
            finishReason = part.finishReason;
            rawFinishReason = part.rawFinishReason;
            break;
          case "finish":
            finished = true;
            finishReason ??= part.finishReason;
            break;
          case "error":
            streamError ??= part.error;
            break;
          default:
            break; // tool-input-*, text-start/end, start-step, tool-error (already covered by tool-call), …
        }
        arm();
      }
    } catch (error) {
      streamError ??= error;
    } finally {
      disarm();
      signal?.removeEventListener("abort", forwardAbort);
      controller.abort(); // releases the connection if the consumer stopped early
    }

    throwIfAborted(signal);
    if (idle) {
      return {
        ok: false,
        failure: { retryable: true, reason: `no data from the model for ${idleMs} ms (idle timeout)` },
      };
    }
    if (streamError !== undefined) return { ok: false, failure: classifyError(streamError) };
    // The provider ended the answer with an error finish reason and no error body, e.g. Gemini's
    // MALFORMED_FUNCTION_CALL (it could not produce a valid call): a fresh attempt usually succeeds.
    if (finishReason === "error") {
      return {
        ok: false,
        failure: {
          retryable: true,
          reason: `the provider ended the answer with an error${rawFinishReason ? ` (finish reason ${rawFinishReason})` : ""}`,
        },
      };
    }
    // A stream that stopped without the provider's completion signal (the SDK says `interrupted`) was
    // cut short, e.g. by a proxy closing it cleanly: the answer may be incomplete, so it is not used.
    if (!finished || finishReason === "interrupted") {
      return {
        ok: false,
        failure: { retryable: true, reason: "the response stream ended before the answer was complete" },
      };
    }
    if (text.trim() === "" && toolCalls.length === 0) {
      return {
        ok: false,
        failure: {
          retryable: true,
          empty: true,
          reason: "the model returned an empty answer (no text, no tool calls)",
        },
      };
    }
    for (const call of toolCalls) yield call;
    yield { type: "usage", usage: toUsage(usage) };
    yield { type: "finish", reason: finishReason ?? "unknown" };
    return { ok: true };
  }
}

function toToolCallPart(part: Extract<TextStreamPart<ToolSet>, { type: "tool-call" }>) {
  const call: Extract<ModelPart, { type: "tool-call" }> = {
    type: "tool-call",
    id: part.toolCallId,
    name: part.toolName,
    args: part.input,
  };
  const invalid = part as { invalid?: boolean; error?: unknown };
  if (invalid.invalid) {
    const error = invalid.error as
      | { name?: string; toolInput?: string; cause?: unknown; message?: string }
      | undefined;
    // Unknown tool names pass through (the engine answers them); bad JSON gets `argsError`.
    if (error?.name !== "AI_NoSuchToolError") {
      const raw =
        error?.toolInput ?? (typeof part.input === "string" ? part.input : JSON.stringify(part.input));
      const why =
        (error?.cause as { message?: string } | undefined)?.message ?? error?.message ?? "invalid input";
      call.args = raw;
      call.argsError = `The arguments of this ${part.toolName} call are not valid JSON (${oneLine(why)}). Raw arguments: ${raw}`;
    }
  }
  return call;
}

function toUsage(usage: LanguageModelUsage | undefined): Usage {
  const out: Usage = { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 };
  const cached = usage?.inputTokenDetails?.cacheReadTokens;
  const reasoning = usage?.outputTokenDetails?.reasoningTokens;
  if (cached !== undefined) out.cachedInputTokens = cached;
  if (reasoning !== undefined) out.reasoningTokens = reasoning;
  return out;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError("the model call was aborted", { cause: signal.reason });
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
