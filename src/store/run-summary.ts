import type { EntourageEvent } from "../core/index.ts";
import type { RunSummary } from "./event-store.ts";

/**
 * Folds a batch of one run's events into its list row. Backends keep this row beside the log, updated
 * in the same transaction as the events, so `listRuns` reads one row per run instead of folding logs.
 * The log stays the source of truth: this row is recomputable from it at any time.
 */
export function foldRunSummary(
  previous: RunSummary | undefined,
  runId: string,
  events: readonly EntourageEvent[],
): RunSummary {
  const first = events[0];
  const summary: RunSummary = previous
    ? { ...previous }
    : {
        runId,
        task: "",
        repo: "",
        status: "queued",
        createdAt: first?.time ?? 0,
        updatedAt: first?.time ?? 0,
        events: 0,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        costKnown: true,
      };
  for (const event of events) {
    summary.events = event.seq + 1;
    summary.updatedAt = event.time;
    switch (event.type) {
      case "run.created":
        summary.task = event.data.task;
        summary.repo = event.data.repo;
        summary.createdAt = event.time;
        break;
      case "run.status":
        summary.status = event.data.status;
        break;
      case "run.finished":
        summary.status = event.data.status;
        break;
      case "verification.ended":
        summary.verification = event.data.status;
        break;
      case "llm.response":
        summary.inputTokens += event.data.usage.inputTokens;
        summary.outputTokens += event.data.usage.outputTokens;
        if (event.data.costUsd === undefined) summary.costKnown = false;
        else summary.costUsd += event.data.costUsd;
        break;
    }
  }
  return summary;
}

/** Newest first; ties (same millisecond) broken by run id, which is time-ordered too. */
export function compareRunsNewestFirst(a: RunSummary, b: RunSummary): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0;
}
