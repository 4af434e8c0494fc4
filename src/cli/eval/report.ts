/**
 * What `entourage eval` prints: one row per task and a total row (resolved rate, tokens, cost, wall time),
 * as a table for people and as JSON for scripts. The JSON is also what ENTOURAGE_HOME/evals/<id>/results.json holds.
 */
import { formatCost, formatDuration, formatTokens } from "../../core/format.ts";
import type { TaskResult, TaskVerdict } from "./harness.ts";

export interface EvalTotals {
  tasks: number;
  resolved: number;
  /** resolved / tasks, 0..1. */
  resolvedRate: number;
  unresolved: number;
  /** Tasks the harness could not run or judge (invalid, error, interrupted, skipped). */
  errors: number;
  steps: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  costKnown: boolean;
  /** The eval, first task started to last task ended (tasks overlap with --concurrency above 1). */
  wallMs: number;
}

export interface EvalReport {
  evalId: string;
  taskFile: string;
  startedAt: string;
  finishedAt: string;
  concurrency: number;
  /** Where the checkouts and this report are kept. */
  dir: string;
  tasks: TaskResult[];
  totals: EvalTotals;
}

export function totalsOf(tasks: readonly TaskResult[], wallMs: number): EvalTotals {
  const resolved = tasks.filter((t) => t.verdict === "resolved").length;
  const unresolved = tasks.filter((t) => t.verdict === "unresolved").length;
  const sum = (pick: (t: TaskResult) => number) => tasks.reduce((n, t) => n + pick(t), 0);
  return {
    tasks: tasks.length,
    resolved,
    resolvedRate: tasks.length === 0 ? 0 : resolved / tasks.length,
    unresolved,
    errors: tasks.length - resolved - unresolved,
    steps: sum((t) => t.steps),
    inputTokens: sum((t) => t.inputTokens),
    outputTokens: sum((t) => t.outputTokens),
    costUsd: sum((t) => t.costUsd),
    costKnown: tasks.every((t) => t.costKnown),
    wallMs,
  };
}

const MARK: Record<TaskVerdict, string> = {
  resolved: "✓",
  unresolved: "✗",
  invalid: "invalid",
  error: "error",
  interrupted: "stopped",
  skipped: "not run",
};

const HEADER = ["TASK", "RESOLVED", "F2P", "P2P", "STEPS", "TOKENS IN/OUT", "COST", "WALL", "RUN"];

/** The table: one row per task, a total row, and a line per task that did not get a verdict. */
export function formatTable(report: EvalReport): string {
  const count = (g: { passed: number; total: number } | undefined) => (g ? `${g.passed}/${g.total}` : "-");
  const rows = report.tasks.map((t) => [
    t.instanceId,
    MARK[t.verdict],
    count(t.failToPass),
    count(t.passToPass),
    String(t.steps),
    `${formatTokens(t.inputTokens)}/${formatTokens(t.outputTokens)}`,
    t.runId ? formatCost(t.costUsd, t.costKnown) : "-",
    t.runMs === undefined ? "-" : formatDuration(t.runMs),
    t.runId ? `${t.runId} (${t.runStatus ?? "stopped"})` : "-",
  ]);
  const x = report.totals;
  const sumOf = (pick: (t: TaskResult) => { passed: number; total: number } | undefined) => {
    const groups = report.tasks.map(pick).filter((g) => g !== undefined);
    return `${groups.reduce((n, g) => n + g.passed, 0)}/${groups.reduce((n, g) => n + g.total, 0)}`;
  };
  const total = [
    "TOTAL",
    `${x.resolved}/${x.tasks} (${Math.round(x.resolvedRate * 100)}%)`,
    sumOf((t) => t.failToPass),
    sumOf((t) => t.passToPass),
    String(x.steps),
    `${formatTokens(x.inputTokens)}/${formatTokens(x.outputTokens)}`,
    formatCost(x.costUsd, x.costKnown),
    formatDuration(x.wallMs),
    "",
  ];
  const all = [HEADER, ...rows, total];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + " ".repeat(widths[i]! - [...c].length))
      .join("  ")
      .trimEnd();
  const notes = report.tasks
    .filter((t) => t.verdict !== "resolved")
    .map((t) => `  ${t.instanceId}: ${t.verdict}: ${t.reason}`);
  return [
    line(HEADER),
    ...rows.map(line),
    line(total),
    ...(notes.length > 0 ? ["", ...notes] : []),
    "",
    "RESOLVED is the judge's verdict; RUN is the task's run and how it ended by its own account (entourage show <run>).",
    `results: ${report.dir}/results.json`,
    "",
  ].join("\n");
}
