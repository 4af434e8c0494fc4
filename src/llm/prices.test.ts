import assert from "node:assert/strict";
import { test } from "node:test";
import { costOf, priceOf } from "./prices.ts";

test("costOf prices a known model, cached input at the cache-read price", () => {
  // claude-sonnet-4-6: $3 in, $0.30 cached, $15 out per 1M tokens
  const cost = costOf("anthropic", "claude-sonnet-4-6", {
    inputTokens: 1_000_000,
    cachedInputTokens: 400_000,
    outputTokens: 100_000,
  });
  assert.ok(cost !== undefined);
  assert.ok(Math.abs(cost - (0.6 * 3 + 0.4 * 0.3 + 0.1 * 15)) < 1e-9);
});

test("dated snapshots resolve to their model's price", () => {
  assert.deepEqual(
    priceOf("anthropic", "claude-sonnet-4-5-20250929"),
    priceOf("anthropic", "claude-sonnet-4-5"),
  );
  assert.deepEqual(priceOf("openai", "gpt-5-2025-08-07"), priceOf("openai", "gpt-5"));
  assert.equal(costOf("openai", "gpt-5.4", { inputTokens: 2_000_000, outputTokens: 0 }), 5);
});

test("an unknown model, or any local model, has no cost rather than a wrong one", () => {
  assert.equal(costOf("openai", "gpt-99-turbo", { inputTokens: 10, outputTokens: 10 }), undefined);
  assert.equal(
    costOf("openai-compatible", "qwen2.5-coder", { inputTokens: 10, outputTokens: 10 }),
    undefined,
  );
  assert.equal(costOf("scripted", "scripted", { inputTokens: 10, outputTokens: 10 }), undefined);
});
