import { EntourageError, SystemError, UserError } from "../../core/index.ts";
import { isRetryableStatus, retryAfterFromHeaders } from "../retry.ts";

/** Why one attempt of a model step failed, and whether trying again can help. */
export interface AttemptFailure {
  retryable: boolean;
  /** Short, human: goes into the `retry` part and the final error. */
  reason: string;
  status?: number;
  retryAfterMs?: number;
  /** The answer was empty (no text, no tool calls): retried once only. */
  empty?: boolean;
  cause?: unknown;
}

/** Who is being talked to, for error messages that say what to check. */
export interface FailureContext {
  provider: string;
  model: string;
  baseUrl?: string;
  /** Environment variables that hold this provider's key, e.g. ["ANTHROPIC_API_KEY"]. */
  keyVariables: readonly string[];
}

/** The fields of AI SDK errors (APICallError, StreamProviderError, RetryError) read here. */
interface SdkErrorLike {
  name?: string;
  message?: string;
  statusCode?: unknown;
  isRetryable?: unknown;
  responseHeaders?: Record<string, string>;
  lastError?: unknown;
  cause?: unknown;
}

const networkCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Network errors that mean no connection was made at all (nothing listens there, no such host). */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Classifies an error raised by the AI SDK or the network. AI SDK errors are recognised by their stable
 * `name` (`AI_APICallError`, …) rather than `instanceof`, so this module needs no runtime import of `ai`.
 */
export function classifyError(error: unknown): AttemptFailure {
  const e = error as SdkErrorLike | undefined;
  const name = e?.name ?? "";
  if (name === "AI_RetryError" && e?.lastError) return classifyError(e.lastError);
  if (name === "AI_APICallError" || name === "AI_StreamProviderError") {
    // A body cut after a 200 arrives as an APICallError with statusCode 200 ("Failed to process
    // successful response", cause "terminated"): that is a network failure, not an HTTP status.
    const status: number | undefined =
      typeof e?.statusCode === "number" && e.statusCode >= 400 ? e.statusCode : undefined;
    const retryable = status !== undefined ? isRetryableStatus(status) : e?.isRetryable === true;
    const network = findNetworkError(e?.cause);
    return {
      retryable,
      reason:
        status !== undefined
          ? `HTTP ${status}: ${shorten(e?.message)}`
          : network
            ? `${neverConnected(e?.cause) ? "could not connect" : "the connection broke mid-response"} (${shorten(network.message)})`
            : `${retryable ? "network error" : "provider error"}: ${shorten(e?.message)}`,
      ...(status !== undefined ? { status } : {}),
      ...optional("retryAfterMs", retryAfterFromHeaders(e?.responseHeaders)),
      cause: error,
    };
  }
  // The openai-compatible provider reports a stream that stopped without a finish chunk this way: the
  // answer was cut short (a proxy or a local server closing early), not malformed.
  if (
    name === "AI_NoOutputGeneratedError" ||
    /stream ended without a finish reason/i.test(e?.message ?? "")
  ) {
    return {
      retryable: true,
      reason: "the response stream ended before the answer was complete",
      cause: error,
    };
  }
  if (
    name === "AI_TypeValidationError" ||
    name === "AI_JSONParseError" ||
    name === "AI_InvalidResponseDataError"
  ) {
    return {
      retryable: true,
      reason: `malformed response from the provider: ${shorten(e?.message)}`,
      cause: error,
    };
  }
  const network = findNetworkError(error);
  if (network) {
    return { retryable: true, reason: `the connection failed: ${shorten(network.message)}`, cause: error };
  }
  return { retryable: false, reason: shorten(e?.message ?? String(error)), cause: error };
}

/** The error to throw for a failure that will not be retried. */
export function finalError(failure: AttemptFailure, ctx: FailureContext): EntourageError {
  if (EntourageError.isInstance(failure.cause)) return failure.cause;
  const who = `the ${ctx.provider} API${ctx.baseUrl ? ` at ${ctx.baseUrl}` : ""}`;
  const detail = failure.reason;
  const name = (failure.cause as { name?: string } | undefined)?.name;
  const options = { cause: failure.cause };
  if (name === "AI_LoadAPIKeyError" || failure.status === 401) {
    return new UserError(
      "model_auth_failed",
      `${capital(who)} rejected the API key (${detail}). Check ${ctx.keyVariables.join(" or ") || "--api-key"}` +
        ` (or pass --api-key): it must be set, current and meant for ${ctx.provider}.`,
      options,
    );
  }
  if (failure.status === 403) {
    return new UserError(
      "model_forbidden",
      `${capital(who)} refused access to model "${ctx.model}" (${detail}). Check that the key's account or project` +
        " may use this model, or choose another with --model.",
      options,
    );
  }
  if (failure.status === 404) {
    return new UserError(
      "model_not_found",
      `${capital(who)} does not know model "${ctx.model}" or the endpoint (${detail}). Check --model (or ENTOURAGE_MODEL)` +
        (ctx.baseUrl ? " and --base-url (OpenAI-compatible servers usually end in /v1)." : "."),
      options,
    );
  }
  if (failure.status !== undefined && failure.status >= 400 && failure.status < 500) {
    return new SystemError(
      "model_request_rejected",
      `${capital(who)} rejected the request (${detail}). The conversation may be too long for the model, or a tool` +
        " schema is not accepted by it: choose a model with a larger context with --model, or continue from an" +
        " earlier step with `entourage fork <run-id> --at <seq>` and a narrower task.",
      options,
    );
  }
  return new SystemError(
    "model_error",
    `The ${ctx.provider} model "${ctx.model}" failed: ${detail}`,
    options,
  );
}

/** The error after the last attempt failed with a retryable failure. */
export function exhaustedError(attempts: number, last: AttemptFailure, ctx: FailureContext): SystemError {
  const status = last.status !== undefined ? "" : " (no HTTP status)";
  return new SystemError(
    "model_unavailable",
    `The ${ctx.provider} model "${ctx.model}" did not answer after ${attempts} attempts; the last one failed${status}: ` +
      `${last.reason}. ` +
      (ctx.baseUrl
        ? `Check that the server at ${ctx.baseUrl} is running and responsive, then resume the run.`
        : "The provider may be overloaded or rate-limiting this key; wait a little, then resume the run."),
    { cause: last.cause, retryable: true },
  );
}

/** Whether the chain of causes says no connection was made at all (rather than one that broke). */
function neverConnected(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CONNECT_CODES.has(code)) return true;
  }
  return false;
}

function findNetworkError(error: unknown): Error | undefined {
  const seen = new Set<unknown>();
  let current = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && networkCodes.has(code)) return current;
    // undici reports a body cut mid-stream as TypeError("terminated").
    if (
      current instanceof TypeError &&
      (current.message === "terminated" || current.message === "fetch failed")
    ) {
      return current;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function shorten(message: unknown, max = 300): string {
  const text = String(message ?? "")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
