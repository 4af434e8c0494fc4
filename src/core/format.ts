/**
 * How durations, token counts, costs and protocol fallbacks read, in the terminal and in the dashboard alike
 * (the dashboard imports this file directly: it has no imports and runs anywhere).
 */

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** A cost, or "cost unknown" when a model step had no price (views then count tokens only). */
export function formatCost(usd: number, known: boolean): string {
  if (!known) return "cost unknown";
  if (usd === 0) return "$0";
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** What a `protocol.fallback` of each kind means, in the words every view uses. */
export const FALLBACK_LABEL: Record<
  "plan_from_text" | "plan_from_analysis" | "report_from_text" | "nudged",
  string
> = {
  plan_from_text: "plan taken from the model's text",
  plan_from_analysis: "no plan proposed: the Analyzer's report is the plan",
  report_from_text: "report taken from the model's text (no finish call)",
  nudged: "agent nudged",
};

/**
 * A path for people. A file name that is not UTF-8 reaches the log with each such byte as a lone
 * surrogate U+DC80–U+DCFF (src/workspace/path-bytes.ts); it is shown as `\xE9`, as git and ls show it.
 */
export function printablePath(rel: string): string {
  if (rel.isWellFormed()) return rel;
  let out = "";
  for (const char of rel) {
    const code = char.charCodeAt(0);
    out +=
      char.length === 1 && code >= 0xdc80 && code <= 0xdcff
        ? `\\x${(code - 0xdc00).toString(16).toUpperCase().padStart(2, "0")}`
        : char;
  }
  return out;
}
