/** Small display helpers shared by the pages. */

export { describeArgs } from "../../../src/core/describe-event.ts";
export { formatCost, formatDuration, formatTokens } from "../../../src/core/format.ts";

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "1 step", "3 steps". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
