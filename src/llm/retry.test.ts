import assert from "node:assert/strict";
import { test } from "node:test";
import { AbortedError } from "../core/index.ts";
import { backoffDelay, defaultRetryPolicy, realSleep, retryAfterFromHeaders, retryDelay } from "./retry.ts";

test("backoff grows exponentially with full jitter and is capped", () => {
  const max = () => 0.999999;
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelay(n, defaultRetryPolicy, max)),
    [500, 1000, 2000, 4000],
  );
  assert.equal(backoffDelay(20, defaultRetryPolicy, max), 30_000);
  assert.equal(
    backoffDelay(3, defaultRetryPolicy, () => 0),
    0,
  );
});

test("retry-after-ms wins over retry-after; seconds and HTTP dates are understood", () => {
  assert.equal(retryAfterFromHeaders({ "retry-after": "2", "retry-after-ms": "150" }), 150);
  assert.equal(retryAfterFromHeaders({ "Retry-After": "2" }), 2000);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(
    retryAfterFromHeaders({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }, () => now),
    5000,
  );
  assert.equal(retryAfterFromHeaders({ "retry-after": "soon" }), undefined);
  assert.equal(retryAfterFromHeaders(undefined), undefined);
});

test("a server's retry-after is used as is, up to the clip", () => {
  assert.equal(
    retryDelay(1, 1000, defaultRetryPolicy, () => 0),
    1000,
  );
  assert.equal(retryDelay(1, 10 * 60_000, defaultRetryPolicy), defaultRetryPolicy.maxRetryAfterMs);
});

test("the real sleep rejects with AbortedError when aborted", async () => {
  const controller = new AbortController();
  const sleeping = realSleep(60_000, controller.signal);
  controller.abort();
  await assert.rejects(sleeping, (e: unknown) => AbortedError.isInstance(e));
});
