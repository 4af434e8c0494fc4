import { setTimeout as delay } from "node:timers/promises";
import { AbortedError } from "../core/index.ts";

/** How a model adapter retries a step. Every field is configurable; tests inject `sleep` and `random`. */
export interface RetryPolicy {
  /** Total attempts per step, the first included. */
  maxAttempts: number;
  /** Backoff base: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `retry-after` longer than this is clipped to it (a provider asking for an hour is not waited out). */
  maxRetryAfterMs: number;
  /** A stream that sends nothing for this long is ended and retried. */
  idleTimeoutMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
  idleTimeoutMs: 60_000,
};

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Real waiting; rejects with `AbortedError` when the signal aborts. */
export const realSleep: Sleep = async (ms, signal) => {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal?.aborted) throw new AbortedError("aborted while waiting to retry the model", { cause: error });
    throw error;
  }
};

/** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Reads `retry-after-ms` (OpenAI; more precise) or `retry-after` (seconds or an HTTP date) from response
 * headers. Returns undefined when absent or unparsable.
 */
export function retryAfterFromHeaders(
  headers: Record<string, string | undefined> | undefined,
  now: () => number = Date.now,
): number | undefined {
  if (!headers) return undefined;
  const lower: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const ms = Number.parseFloat(lower["retry-after-ms"] ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = lower["retry-after"]?.trim();
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  if (Number.isFinite(date)) return Math.max(0, date - now());
  return undefined;
}

/** The delay before the next attempt: the server's `retry-after` when given (clipped), else backoff. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.ceil(retryAfterMs), policy.maxRetryAfterMs);
  return backoffDelay(attempt, policy, random);
}

/** HTTP statuses worth trying again: timeouts, conflicts, rate limits and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}
