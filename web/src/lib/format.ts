/** Small display helpers shared by the pages. */

export { FALLBACK_LABEL, formatCost, formatDuration, formatTokens } from "../../../src/core/format.ts";

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

/** The argument a person reads first: the command, the path, the pattern; else compact JSON. */
export function summarizeArgs(args: unknown, max = 160): string {
  const a = (args ?? {}) as Record<string, unknown>;
  for (const key of ["command", "path", "pattern", "url", "agent"]) {
    if (typeof a[key] === "string") return clip(a[key] as string, max);
  }
  return clip(JSON.stringify(args ?? {}), max);
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "1 step", "3 steps". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
