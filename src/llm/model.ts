import type { Usage } from "../core/index.ts";

/**
 * The Model port: the only way the engine talks to an LLM. One `stream` call is one model step (one
 * request, one assistant answer); the engine runs the tools itself and calls `stream` again.
 *
 * Messages are our own small, JSON-serialisable shape (they are persisted in events and rebuilt on
 * resume); provider adapters convert them to the wire format.
 */

/** A tool offered to the model: its name, description and the JSON Schema of its input. */
export interface ModelToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ModelToolCall {
  id: string;
  name: string;
  args: unknown;
}

export interface ModelToolResult {
  callId: string;
  name: string;
  output: string;
  isError: boolean;
}

export type ModelMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; text: string; toolCalls: ModelToolCall[] }
  | { role: "tool"; results: ModelToolResult[] };

export interface ModelRequest {
  /** The system prompt. Keep it byte-stable across steps so provider prompt caches hit. */
  system: string;
  messages: ModelMessage[];
  tools: ModelToolSpec[];
  signal?: AbortSignal;
  maxOutputTokens?: number;
}

/**
 * What a model step yields, in order.
 *
 * Contract (what the engine may rely on):
 * - `text-delta` and `reasoning-delta` arrive live, as the provider streams them.
 * - `tool-call` parts arrive only once the answer is complete (after the provider finished the step), so
 *   a call is never half-received. `args` is the parsed JSON input. If the model sent arguments that are
 *   not valid JSON, `argsError` holds the raw text and the parse error and `args` the raw text: the engine
 *   answers that call with a tool error (it is not retried). Unknown tool names are passed through as is;
 *   the engine answers those too.
 * - `retry` is yielded BEFORE the adapter waits and tries the same step again (HTTP 408/409/429/5xx,
 *   network errors, a stream that went silent or was cut, an empty answer, an error finish reason
 *   without an error body such as Gemini's MALFORMED_FUNCTION_CALL). If deltas of the failed
 *   attempt were already yielded, `partialDiscarded` is true (and `reason` says so): the engine must drop
 *   the text and reasoning it buffered for this step, because the next attempt starts over.
 * - A successful step ends with exactly one `usage` part and then one `finish` part, whose `reason` is the
 *   AI SDK's unified finish reason (`stop`, `tool-calls`, `length`, `content-filter`, `other`).
 * - An empty answer (no text, no tool calls) is never a success: it is retried once, then thrown.
 * - Failures are thrown: `AbortedError` when `signal` aborts, `UserError` for a bad key/model/URL,
 *   `SystemError` (`model_unavailable`, `empty_response`, `model_request_rejected`, …) otherwise.
 */
export type ModelPart =
  | { type: "text-delta"; text: string }
  | { type: "reasoning-delta"; text: string }
  | { type: "tool-call"; id: string; name: string; args: unknown; argsError?: string }
  | { type: "usage"; usage: Usage }
  | { type: "finish"; reason: string }
  | {
      type: "retry";
      /** The attempt that failed, from 1. */
      attempt: number;
      delayMs: number;
      reason: string;
      status?: number;
      /** True when deltas of the failed attempt were already yielded and must be discarded. */
      partialDiscarded: boolean;
    };

export interface Model {
  /** `openai`, `anthropic`, `google`, `openai-compatible`, or `scripted`. */
  readonly provider: string;
  readonly id: string;
  /** True for the scripted model: never a real LLM, and every view must say so. */
  readonly scripted: boolean;
  stream(request: ModelRequest): AsyncIterable<ModelPart>;
  /**
   * Starts loading what the first request needs (the SDK, the provider's package) without waiting for it, so
   * that the loading overlaps the slow parts of a run's start (the sandbox probe, the workspace copy), which
   * wait on other processes. Optional; a failure is left for `stream` to report.
   */
  warmUp?(): void;
}
