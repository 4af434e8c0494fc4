import type { Usage } from "../core/index.ts";

/** USD per 1 million tokens. `cachedInput` is the price of a prompt-cache read. */
export interface Price {
  input: number;
  output: number;
  cachedInput?: number;
}

/**
 * Standard (non-batch, short-context) prices of well-known models, as the vendors published them.
 * Checked 2026-11-25 against public price listings dated up to mid-2026; prices change: refresh this
 * table when a vendor changes its list. Models not listed here (and every local or openai-compatible
 * model) get no cost: views show tokens only rather than a wrong number.
 * Long-context surcharges (e.g. Gemini above 200k prompt tokens) and cache-write premiums are ignored.
 */
export const prices: Record<string, Record<string, Price>> = {
  openai: {
    "gpt-5.5": { input: 5, cachedInput: 0.5, output: 30 },
    "gpt-5.4": { input: 2.5, cachedInput: 0.25, output: 15 },
    "gpt-5.4-mini": { input: 0.75, cachedInput: 0.075, output: 4.5 },
    "gpt-5.4-nano": { input: 0.2, cachedInput: 0.02, output: 1.25 },
    "gpt-5.2": { input: 1.75, cachedInput: 0.175, output: 14 },
    "gpt-5.1": { input: 1.25, cachedInput: 0.125, output: 10 },
    "gpt-5.1-codex": { input: 1.25, cachedInput: 0.125, output: 10 },
    "gpt-5.1-codex-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
    "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
    "gpt-5-codex": { input: 1.25, cachedInput: 0.125, output: 10 },
    "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
    "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
    "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
    "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
    "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
    "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
    "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
    o3: { input: 2, cachedInput: 0.5, output: 8 },
    "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  },
  anthropic: {
    "claude-opus-4-6": { input: 5, cachedInput: 0.5, output: 25 },
    "claude-opus-4-5": { input: 5, cachedInput: 0.5, output: 25 },
    "claude-opus-4-1": { input: 15, cachedInput: 1.5, output: 75 },
    "claude-opus-4-0": { input: 15, cachedInput: 1.5, output: 75 },
    "claude-opus-4": { input: 15, cachedInput: 1.5, output: 75 },
    "claude-sonnet-4-6": { input: 3, cachedInput: 0.3, output: 15 },
    "claude-sonnet-4-5": { input: 3, cachedInput: 0.3, output: 15 },
    "claude-sonnet-4-0": { input: 3, cachedInput: 0.3, output: 15 },
    "claude-sonnet-4": { input: 3, cachedInput: 0.3, output: 15 },
    "claude-haiku-4-5": { input: 1, cachedInput: 0.1, output: 5 },
    "claude-3-5-haiku": { input: 0.8, cachedInput: 0.08, output: 4 },
    "claude-3-haiku": { input: 0.25, cachedInput: 0.03, output: 1.25 },
  },
  google: {
    "gemini-3.1-pro-preview": { input: 2, cachedInput: 0.2, output: 12 },
    "gemini-3-flash-preview": { input: 0.5, cachedInput: 0.05, output: 3 },
    "gemini-2.5-pro": { input: 1.25, cachedInput: 0.125, output: 10 },
    "gemini-2.5-flash": { input: 0.3, cachedInput: 0.03, output: 2.5 },
    "gemini-2.5-flash-lite": { input: 0.1, cachedInput: 0.01, output: 0.4 },
    "gemini-2.0-flash": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  },
};

/** The price of a model, tolerating dated snapshots (`claude-sonnet-4-5-20250929`, `gpt-5-2025-08-07`). */
export function priceOf(provider: string, model: string): Price | undefined {
  const table = prices[provider];
  if (!table) return undefined;
  const id = model.trim().toLowerCase();
  return table[id] ?? table[id.replace(/-(\d{8}|\d{4}-\d{2}-\d{2}|\d{3})$/, "")];
}

/**
 * Cost in USD of one model call, or undefined when the model's price is unknown. `inputTokens` includes
 * cached tokens (the AI SDK's convention), which are charged at the cache-read price when there is one.
 */
export function costOf(provider: string, model: string, usage: Usage): number | undefined {
  const price = priceOf(provider, model);
  if (!price) return undefined;
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  const dollars =
    uncached * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output;
  return dollars / 1_000_000;
}
