import { closeSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type Clock,
  EntourageError,
  type EntourageEvent,
  errorMessage,
  type IdGenerator,
  type NewEvent,
  newId,
  SystemError,
  systemClock,
  UserError,
} from "../../core/index.ts";
import { checkLimit, checkReadOptions, checkRunId } from "../check-arguments.ts";
import {
  type AppendOptions,
  type EventStore,
  type ListRunsOptions,
  type RunSummary,
  statusesOf,
} from "../event-store.ts";
import { makePrivateDir, PRIVATE_FILE_MODE } from "../home.ts";
import {
  decideAcquire,
  type LeaseAttempt,
  type LeaseHolder,
  leaseLostError,
  type RunLease,
  withDriver,
} from "../lease.ts";
import {
  type EventListener,
  type ListenerErrorHandler,
  ListenerSet,
  type Positioned,
  reportListenerError,
} from "../listeners.ts";
import {
  decodeEventRow,
  type EventRow,
  type LeaseRow,
  type RunRow,
  rowToLease,
  rowToSummary,
} from "../rows.ts";
import { foldRunSummary } from "../run-summary.ts";
import { assignSeqs, type StampedEvent, stampEvents } from "../stamp-events.ts";
import { migrateSqliteSchema } from "./sqlite-schema.ts";

export { defaultDatabasePath } from "../location.ts";
export { SQLITE_SCHEMA_VERSION } from "./sqlite-schema.ts";

/**
 * `full` (default): every commit is fsynced, so an appended event survives a power cut, which is what
 * "durable before the engine acts on it" means. `normal`: in WAL mode a crash of the process loses
 * nothing, but a power cut or kernel panic may lose the last commits; several times faster for
 * single-event appends.
 */
export type SqliteSynchronous = "full" | "normal";

export interface SqliteEventStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
  synchronous?: SqliteSynchronous;
  /** How long a write waits for another process's write lock before failing. Default 10 s. */
  busyTimeoutMs?: number;
  /** How often subscribers check for events appended by other processes. Default 50 ms. */
  pollIntervalMs?: number;
  /** Called when a listener throws or the cross-process tail fails; default: print to stderr. */
  onError?: ListenerErrorHandler;
}

/**
 * Opens (creating it and its parent directories if needed) the SQLite event store at `path`. Several
 * processes may open the same file: appends are serialised by SQLite's write lock, and subscribers see
 * each other's events. Throws a `UserError` for a file that is not a readable Entourage database or
 * that a newer Entourage wrote.
 */
export async function openSqliteEventStore(
  path: string,
  options: SqliteEventStoreOptions = {},
): Promise<EventStore> {
  const file = resolve(path);
  try {
    makePrivateDir(dirname(file));
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's own mode.
    closeSync(openSync(file, "a", PRIVATE_FILE_MODE));
  } catch (cause) {
    throw new UserError(
      "store_unwritable",
      `Cannot create the event store ${file} or its directory: ${errorMessage(cause)}. ` +
        "Check its permissions or point ENTOURAGE_HOME at a writable directory.",
      { cause },
    );
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { timeout: busyTimeoutMs });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    migrateSqliteSchema(db, file);
  } catch (cause) {
    try {
      db?.close();
    } catch {}
    if (EntourageError.isInstance(cause)) throw cause;
    throw new UserError(
      "store_unreadable",
      `Cannot open the event store ${file}: ${errorMessage(cause)}. If the file is damaged, move it aside ` +
        "(Entourage creates a fresh one) or restore it from a backup; to use another location set ENTOURAGE_HOME.",
      { cause },
    );
  }
  return new SqliteEventStore(db, file, busyTimeoutMs, options);
}

class SqliteEventStore implements EventStore {
  readonly #db: DatabaseSync;
  readonly #file: string;
  readonly #busyTimeoutMs: number;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  readonly #pollIntervalMs: number;
  readonly #listeners: ListenerSet;
  readonly #onError: ListenerErrorHandler | undefined;
  readonly #sql: ReturnType<typeof prepareStatements>;
  #closed = false;
  /** Highest `pos` delivered to (or skipped for) the current listeners. */
  #cursor = 0;
  /** `PRAGMA data_version` when last checked: it changes when another connection commits. */
  #dataVersion = -1;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(db: DatabaseSync, file: string, busyTimeoutMs: number, options: SqliteEventStoreOptions) {
    this.#db = db;
    this.#file = file;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? newId;
    this.#pollIntervalMs = options.pollIntervalMs ?? 50;
    this.#onError = options.onError;
    this.#listeners = new ListenerSet(options.onError);
    this.#sql = prepareStatements(db);
  }

  async append(
    runId: string,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<EntourageEvent[]> {
    this.#checkOpen();
    checkRunId(runId);
    if (events.length === 0) return [];
    const stamped = stampEvents(runId, events, { clock: this.#clock, ids: this.#ids });
    const firstPos = this.#write(runId, stamped, options.leaseToken);
    const appended = stamped.map((s) => s.event);
    this.#deliverOwn(firstPos, appended);
    return appended;
  }

  /** One transaction: next seq computed under the write lock, events inserted, run row updated. */
  #write(runId: string, stamped: readonly StampedEvent[], leaseToken: string | undefined): number {
    const sql = this.#sql;
    return this.#transact(runId, () => {
      if (leaseToken !== undefined && this.#leaseRow(runId)?.token !== leaseToken) {
        throw leaseLostError(runId, this.#leaseRow(runId));
      }
      const next = (sql.nextSeq.get(runId) as { next: number }).next;
      assignSeqs(stamped, next);
      let firstPos = 0;
      for (let i = 0; i < stamped.length; i++) {
        const { event, dataJson } = stamped[i] as StampedEvent;
        const result = sql.insertEvent.run(
          runId,
          event.seq,
          event.id,
          event.time,
          event.type,
          event.agentId ?? null,
          event.parentId ?? null,
          event.v,
          dataJson,
        );
        if (i === 0) firstPos = Number(result.lastInsertRowid);
      }
      const previous = sql.getRun.get(runId) as RunRow | undefined;
      const summary = foldRunSummary(
        previous && rowToSummary(previous),
        runId,
        stamped.map((s) => s.event),
      );
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
      return firstPos;
    });
  }

  #leaseRow(runId: string): RunLease | undefined {
    const row = this.#sql.getLease.get(runId) as LeaseRow | undefined;
    return row && rowToLease(row);
  }

  /** `body` inside one write transaction (BEGIN IMMEDIATE: other processes wait for the lock). */
  #transact<T>(runId: string, body: () => T): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (cause) {
      throw this.#writeError(runId, cause);
    }
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (cause) {
      if (this.#db.isTransaction) {
        try {
          this.#db.exec("ROLLBACK");
        } catch {}
      }
      if (EntourageError.isInstance(cause)) throw cause;
      throw this.#writeError(runId, cause);
    }
  }

  async acquireLease(runId: string, holder: LeaseHolder, ttlMs: number): Promise<LeaseAttempt> {
    this.#checkOpen();
    checkRunId(runId);
    return this.#transact(runId, () => {
      const attempt = decideAcquire(runId, this.#leaseRow(runId), holder, ttlMs, this.#clock());
      if (attempt.ok) {
        const { lease } = attempt;
        this.#sql.putLease.run(
          runId,
          lease.token,
          lease.holder.pid,
          lease.holder.host,
          lease.holder.label,
          lease.acquiredAt,
          lease.heartbeatAt,
          lease.ttlMs,
        );
      }
      return attempt;
    });
  }

  async renewLease(lease: RunLease): Promise<RunLease> {
    this.#checkOpen();
    return this.#transact(lease.runId, () => {
      const now = this.#clock();
      const changed = this.#sql.renewLease.run(now, lease.runId, lease.token).changes;
      if (Number(changed) === 0) throw leaseLostError(lease.runId, this.#leaseRow(lease.runId));
      return { ...lease, heartbeatAt: now };
    });
  }

  async releaseLease(lease: RunLease): Promise<void> {
    this.#checkOpen();
    this.#transact(lease.runId, () => this.#sql.deleteLease.run(lease.runId, lease.token));
  }

  async readLease(runId: string): Promise<RunLease | undefined> {
    this.#checkOpen();
    return this.#leaseRow(runId);
  }

  #writeError(runId: string, cause: unknown): SystemError {
    const errcode = (cause as { errcode?: number }).errcode;
    if (errcode !== undefined && (errcode & 0xff) === 5 /* SQLITE_BUSY */) {
      return new SystemError(
        "store_busy",
        `Could not append to run ${runId}: the event store ${this.#file} stayed locked by another process ` +
          `for ${this.#busyTimeoutMs} ms. Nothing was written; try again, or find the process holding the lock.`,
        { cause, retryable: true },
      );
    }
    return new SystemError(
      "store_write_failed",
      `Could not append to run ${runId} in the event store ${this.#file}: ${errorMessage(cause)}. Nothing was written.`,
      { cause },
    );
  }

  async read(runId: string, options: { fromSeq?: number; limit?: number } = {}): Promise<EntourageEvent[]> {
    this.#checkOpen();
    const { fromSeq, limit } = checkReadOptions(options);
    const rows = this.#sql.readEvents.all(runId, fromSeq, limit ?? -1) as unknown as EventRow[];
    return rows.map(decodeEventRow);
  }

  subscribe(runId: string | "*", listener: EventListener): () => void {
    this.#checkOpen();
    if (runId !== "*") checkRunId(runId);
    const starting = this.#listeners.size === 0;
    // data_version before max(pos): a commit landing in between is then both counted and re-checked.
    if (starting) this.#dataVersion = this.#readDataVersion();
    const after = (this.#sql.maxPos.get() as { pos: number }).pos;
    if (starting) {
      this.#cursor = after;
      this.#timer = setInterval(this.#poll, this.#pollIntervalMs);
      this.#timer.unref();
    }
    const remove = this.#listeners.add(runId, listener, after);
    return () => {
      remove();
      if (this.#listeners.size === 0) this.#stopPolling();
    };
  }

  async listRuns(options: ListRunsOptions = {}): Promise<RunSummary[]> {
    this.#checkOpen();
    const limit = checkLimit(options.limit) ?? -1;
    const statuses = statusesOf(options.status);
    const rows =
      statuses === undefined
        ? this.#sql.listRuns.all(limit)
        : this.#sql.listRunsByStatus.all(JSON.stringify(statuses), limit);
    const now = this.#clock();
    return (rows as unknown as (RunRow & Partial<LeaseRow>)[]).map((row) =>
      withDriver(rowToSummary(row), row.token ? rowToLease(row as LeaseRow) : undefined, now),
    );
  }

  async nextSeq(runId: string): Promise<number> {
    this.#checkOpen();
    return (this.#sql.nextSeq.get(runId) as { next: number }).next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling();
    this.#db.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new EntourageError("store_closed", `The event store ${this.#file} is closed.`);
  }

  #stopPolling(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #readDataVersion(): number {
    return (this.#sql.dataVersion.get() as { data_version: number }).data_version;
  }

  /**
   * After our own commit: first deliver what other processes committed before it and nobody has
   * delivered yet (the poller may be up to one interval behind), then our batch, so every listener
   * sees each run in seq order. Never throws: the events are committed, the append has succeeded.
   */
  #deliverOwn(firstPos: number, events: readonly EntourageEvent[]): void {
    if (this.#listeners.size === 0) return;
    if (this.#cursor < firstPos - 1) this.#catchUp(firstPos);
    // Move the cursor before publishing: a listener that appends re-enters here and must not re-read us.
    this.#cursor = Math.max(this.#cursor, firstPos + events.length - 1);
    this.#listeners.publish(events.map((event, i) => ({ event, pos: firstPos + i })));
  }

  readonly #poll = (): void => {
    if (this.#closed || this.#listeners.size === 0) return;
    try {
      const version = this.#readDataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
      this.#catchUp(Number.MAX_SAFE_INTEGER);
    } catch (error) {
      this.#reportError(error);
    }
  };

  /** Delivers committed rows with `#cursor < pos < before` that some listener wants, in `pos` order. */
  #catchUp(before: number): void {
    const pageSize = 500;
    for (;;) {
      let rows: (EventRow & { pos: number })[];
      try {
        rows = this.#sql.eventsAfter.all(this.#cursor, before, pageSize) as unknown as (EventRow & {
          pos: number;
        })[];
      } catch (error) {
        this.#reportError(error);
        return;
      }
      if (rows.length === 0) return;
      this.#cursor = (rows[rows.length - 1] as { pos: number }).pos;
      const items: Positioned[] = [];
      for (const row of rows) {
        if (!this.#listeners.wants(row.run_id)) continue;
        try {
          items.push({ event: decodeEventRow(row), pos: row.pos });
        } catch (error) {
          this.#reportError(error);
        }
      }
      this.#listeners.publish(items);
      if (rows.length < pageSize || this.#listeners.size === 0) return;
    }
  }

  #reportError(error: unknown): void {
    const wrapped = new SystemError(
      "store_tail_failed",
      `Reading new events from ${this.#file} failed: ${errorMessage(error)}`,
      {
        cause: error,
        retryable: true,
      },
    );
    (this.#onError ?? reportListenerError)(wrapped);
  }
}

const eventColumns = "run_id, seq, id, time, type, agent_id, parent_id, v, data";
const runColumns =
  "run_id, task, repo, status, created_at, updated_at, events, input_tokens, output_tokens, cost_usd, cost_known, verification";
const leaseColumns = "run_id, token, pid, host, label, acquired_at, heartbeat_at, ttl_ms";
/** A run row with its lease's columns (NULL when nobody holds one). */
const listedColumns = `${runColumns
  .split(", ")
  .map((c) => `r.${c}`)
  .join(", ")}, l.token, l.pid, l.host, l.label, l.acquired_at, l.heartbeat_at, l.ttl_ms`;

function prepareStatements(db: DatabaseSync) {
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
