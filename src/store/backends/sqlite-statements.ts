import type { DatabaseSync } from "node:sqlite";
import type { RunSummary } from "../event-store.ts";

const eventColumns = "run_id, seq, id, time, type, agent_id, parent_id, v, data";
const runColumns =
  "run_id, task, repo, status, created_at, updated_at, events, input_tokens, output_tokens, cost_usd, cost_known, verification";
const leaseColumns = "run_id, token, pid, host, label, acquired_at, heartbeat_at, ttl_ms";
/** A run row with its lease's columns (NULL when nobody holds one). */
const listedColumns = `${runColumns
  .split(", ")
  .map((c) => `r.${c}`)
  .join(", ")}, l.token, l.pid, l.host, l.label, l.acquired_at, l.heartbeat_at, l.ttl_ms`;

/** Every statement the SQLite store runs, prepared once per connection. */
export function prepareStatements(db: DatabaseSync) {
  return {
    nextSeq: db.prepare("SELECT coalesce(max(seq) + 1, 0) AS next FROM events WHERE run_id = ?"),
    insertEvent: db.prepare(`INSERT INTO events (${eventColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getRun: db.prepare(`SELECT ${runColumns} FROM runs WHERE run_id = ?`),
    upsertRun: db.prepare(
      `INSERT INTO runs (${runColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET task = excluded.task, repo = excluded.repo, status = excluded.status,
         created_at = excluded.created_at, updated_at = excluded.updated_at, events = excluded.events,
         input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
         cost_usd = excluded.cost_usd, cost_known = excluded.cost_known, verification = excluded.verification`,
    ),
    updateRunTotals: db.prepare(
      `UPDATE runs SET updated_at = ?, events = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?,
         cost_known = ?, verification = ? WHERE run_id = ?`,
    ),
    readEvents: db.prepare(
      `SELECT ${eventColumns} FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?`,
    ),
    eventsAfter: db.prepare(
      `SELECT pos, ${eventColumns} FROM events WHERE pos > ? AND pos < ? ORDER BY pos LIMIT ?`,
    ),
    maxPos: db.prepare("SELECT coalesce(max(pos), 0) AS pos FROM events"),
    dataVersion: db.prepare("PRAGMA data_version"),
    listRuns: db.prepare(
      `SELECT ${listedColumns} FROM runs r LEFT JOIN leases l USING (run_id)
       ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?`,
    ),
    listRunsByStatus: db.prepare(
      `SELECT ${listedColumns} FROM runs r LEFT JOIN leases l USING (run_id)
       WHERE r.status IN (SELECT value FROM json_each(?)) ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?`,
    ),
    getLease: db.prepare(`SELECT ${leaseColumns} FROM leases WHERE run_id = ?`),
    putLease: db.prepare(`INSERT OR REPLACE INTO leases (${leaseColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    renewLease: db.prepare("UPDATE leases SET heartbeat_at = ? WHERE run_id = ? AND token = ?"),
    deleteLease: db.prepare("DELETE FROM leases WHERE run_id = ? AND token = ?"),
  };
}

/** Writes a run's list row after a round. */
export function writeRunRow(
  sql: ReturnType<typeof prepareStatements>,
  before: RunSummary | undefined,
  summary: RunSummary,
): void {
  if (
    before &&
    before.status === summary.status &&
    before.task === summary.task &&
    before.repo === summary.repo &&
    before.createdAt === summary.createdAt
  ) {
    // Most rounds: only the counters move, and no index of `runs` is touched (two pages fewer to write).
    sql.updateRunTotals.run(
      summary.updatedAt,
      summary.events,
      summary.inputTokens,
      summary.outputTokens,
      summary.costUsd,
      summary.costKnown ? 1 : 0,
      summary.verification ?? null,
      summary.runId,
    );
    return;
  }
  sql.upsertRun.run(
    summary.runId,
    summary.task,
    summary.repo,
    summary.status,
    summary.createdAt,
    summary.updatedAt,
    summary.events,
    summary.inputTokens,
    summary.outputTokens,
    summary.costUsd,
    summary.costKnown ? 1 : 0,
    summary.verification ?? null,
  );
}
