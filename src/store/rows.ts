/**
 * The stored shapes every SQL backend shares (SQLite and PostgreSQL use the same column names) and their
 * readers. Numbers may arrive as strings (PostgreSQL's bigint) and flags as 0/1 or booleans; the readers
 * normalise both, so each backend maps its rows through the same code. Events are decoded in
 * event-codec.ts, which loads the event schemas; this file does not, so listing runs never does.
 */
import type { VerificationStatus } from "../core/index.ts";
import type { RunSummary } from "./event-store.ts";
import type { RunLease } from "./lease.ts";

/** One persisted event as stored in the `events` table. */
export interface EventRow {
  run_id: string;
  seq: number;
  id: string;
  time: number;
  type: string;
  agent_id: string | null;
  parent_id: string | null;
  v: number;
  data: string;
}

/** A run's list row (`runs` table). */
export interface RunRow {
  run_id: string;
  task: string;
  repo: string;
  status: RunSummary["status"];
  created_at: number;
  updated_at: number;
  events: number;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number;
  cost_known: number | boolean;
  verification: string | null;
}

/** A run's lease (`leases` table). */
export interface LeaseRow {
  run_id: string;
  token: string;
  pid: number;
  host: string;
  label: string;
  acquired_at: number;
  heartbeat_at: number;
  ttl_ms: number;
}

export function rowToLease(row: LeaseRow): RunLease {
  return {
    runId: row.run_id,
    token: row.token,
    holder: { pid: row.pid, host: row.host, label: row.label },
    acquiredAt: row.acquired_at,
    heartbeatAt: row.heartbeat_at,
    ttlMs: row.ttl_ms,
  };
}

export function rowToSummary(row: RunRow): RunSummary {
  return {
    runId: row.run_id,
    task: row.task,
    repo: row.repo,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    events: row.events,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: row.cost_usd,
    costKnown: row.cost_known === 1 || row.cost_known === true,
    ...(row.verification ? { verification: row.verification as VerificationStatus } : {}),
  };
}
