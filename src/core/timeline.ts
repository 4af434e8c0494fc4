import type { EntourageEvent } from "./events/index.ts";

/**
 * The events a run continues from, after rewinds. `workspace.restored` with a `toSeq` (a rewind) cuts
 * the events after `toSeq` and before itself out of the run's working history: the agents' conversations,
 * the phases and the reports are rebuilt as they were at `toSeq`. The log itself keeps everything (audit,
 * replay, cost); only driving the run uses this view.
 */
export function effectiveEvents(events: readonly EntourageEvent[]): EntourageEvent[] {
  const cuts: { from: number; to: number }[] = [];
  for (const e of events) {
    if (e.type === "workspace.restored" && e.data.toSeq !== undefined)
      cuts.push({ from: e.data.toSeq, to: e.seq });
  }
  if (cuts.length === 0) return [...events];
  return events.filter((e) => !cuts.some((c) => e.seq > c.from && e.seq < c.to));
}
