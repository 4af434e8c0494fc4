/** Small display helpers shared by the pages. */

export { describeArgs } from "../../../src/core/describe-event.ts";
export { formatCost, formatDuration, formatTokens } from "../../../src/core/format.ts";

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

/** When a run started, as a person scans a list: the time today, the day and time this year, else the date. */
export function formatStarted(ms: number, now = Date.now()): string {
  const at = new Date(ms);
  const today = new Date(now);
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  if (at.toDateString() === today.toDateString()) return time;
  if (at.getFullYear() === today.getFullYear())
    return `${at.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
  return at.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "1 step", "3 steps". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
