import { closeSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
// Not the core barrel: it loads zod and the event schemas, which listing runs never needs (load-codec.ts).
import { EntourageError, errorMessage, SystemError, UserError } from "../../core/errors.ts";
import type { EntourageEvent, NewEvent } from "../../core/events/index.ts";
import { type Clock, type IdGenerator, newId, systemClock } from "../../core/ids.ts";
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
import { type Codec, loadCodec, loadedCodec } from "../load-codec.ts";
import { type EventRow, type LeaseRow, type RunRow, rowToLease, rowToSummary } from "../rows.ts";
import {
  type AppendOutcome,
  type PendingAppend,
  RoundPacer,
  RunStateCache,
  writeRound,
} from "./sqlite-round.ts";
import { migrateSqliteSchema } from "./sqlite-schema.ts";
import { prepareStatements } from "./sqlite-statements.ts";
import { WalSync } from "./sqlite-wal-sync.ts";

export { defaultDatabasePath } from "../location.ts";
export { SQLITE_SCHEMA_VERSION } from "./sqlite-schema.ts";

/**
 * `full` (default): an append resolves only once its commit is on disk (the WAL fsynced), so an appended
 * event survives a power cut, which is what "durable before the engine acts on it" means. `normal`: in WAL
 * mode a crash of the process loses nothing, but a power cut or kernel panic may lose the last commits.
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
  let flushWal = false;
  try {
    db = new DatabaseSync(file, { timeout: busyTimeoutMs });
    const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
    db.exec("PRAGMA synchronous = FULL");
    migrateSqliteSchema(db, file);
    // In WAL mode, commits no longer fsync inside COMMIT: `WalSync` flushes the WAL after it, off the
    // event loop, and an append resolves only after that flush (with `synchronous: "full"`, the default).
    // Where WAL is refused (some network filesystems), COMMIT keeps syncing by itself.
    if (mode.toLowerCase() === "wal") {
      db.exec("PRAGMA synchronous = NORMAL");
      flushWal = options.synchronous !== "normal";
    } else if (options.synchronous === "normal") db.exec("PRAGMA synchronous = NORMAL");
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
  return new SqliteEventStore(db, file, busyTimeoutMs, flushWal, options);
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
  /** Appends wait for `WalSync` (WAL mode, `synchronous: "full"`). */
  readonly #flushWal: boolean;
  readonly #wal: WalSync;
  /** Appends waiting for the next group commit round, and the loop writing rounds. */
  #pending: PendingAppend[] = [];
  #flushing: Promise<void> | undefined;
  /** The last committed round to resolve (each resolves after the one before), and how many appends wait. */
  #settled: Promise<void> = Promise.resolve();
  #unsettled = 0;
  readonly #runs = new RunStateCache();
  readonly #pacer = new RoundPacer();
  /** Appends made before the codec had loaded, still waiting for it: later ones queue behind them. */
  #waitingForCodec = 0;

  constructor(
    db: DatabaseSync,
    file: string,
    busyTimeoutMs: number,
    flushWal: boolean,
    options: SqliteEventStoreOptions,
  ) {
    this.#db = db;
    this.#file = file;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? newId;
    this.#pollIntervalMs = options.pollIntervalMs ?? 50;
    this.#onError = options.onError;
    this.#listeners = new ListenerSet(options.onError);
    this.#sql = prepareStatements(db);
    this.#flushWal = flushWal;
    this.#wal = new WalSync(file, (began, ended) => this.#pacer.flushed(began, ended));
  }

  append(runId: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<EntourageEvent[]> {
    try {
      this.#checkOpen();
      checkRunId(runId);
      if (events.length === 0) return Promise.resolve([]);
      const codec = loadedCodec();
      if (codec && this.#waitingForCodec === 0) return this.#enqueue(codec, runId, events, options);
      // The first appends wait for the schemas; every append made meanwhile queues behind them (the
      // callbacks of one promise run in order), so appends keep the order they were made in.
      this.#waitingForCodec++;
      return loadCodec().then((loaded) => {
        try {
          return this.#enqueue(loaded, runId, events, options);
        } finally {
          this.#waitingForCodec--;
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #enqueue(
    loaded: Codec,
    runId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<EntourageEvent[]> {
    const stamped = loaded.stampEvents(runId, events, { clock: this.#clock, ids: this.#ids });
    return new Promise((resolve, reject) => {
      this.#pending.push({
        runId,
        stamped,
        leaseToken: options.leaseToken,
        durable: options.durable !== false,
        resolve,
        reject,
      });
      this.#scheduleFlush();
    });
  }

  async sync(): Promise<void> {
    this.#checkOpen();
    await this.#drain();
    if (this.#flushWal) await this.#syncWal();
  }

  /** Until every accepted append has been written and has resolved or been refused. */
  async #drain(): Promise<void> {
    while (this.#flushing || this.#unsettled > 0) {
      await this.#flushing;
      await this.#settled;
    }
  }

  /**
   * Group commit: appends made while a round is being written or flushed queue up, and the next round
   * writes all of them in one transaction and, when one of them must be durable, one fsync of the WAL off
   * the event loop. Every append resolves after that fsync (begun after its commit), in the order the
   * appends were made, after its events reached the listeners.
   *
   * Pipelining, when writing a round costs the event loop more than an fsync costs the disk (many
   * writers, `RoundPacer`): the next round is written while the previous one's fsync runs. Writers that
   * await each append would all land in one round and wait together, so a round that starts with nothing
   * in flight takes half the queue: the halves then alternate, one written while the other is flushed.
   */
  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = (async () => {
      // Appends made in the same tick as the first join its round.
      await Promise.resolve();
      while (this.#pending.length > 0) {
        const overlap = this.#pacer.overlaps(this.#pending.length + this.#unsettled);
        if (this.#unsettled > 0 && !overlap) {
          await this.#settled;
          continue;
        }
        const take =
          overlap && this.#unsettled === 0 ? Math.ceil(this.#pending.length / 2) : this.#pending.length;
        this.#round(this.#pending.splice(0, take));
      }
    })().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0) this.#scheduleFlush();
    });
  }

  /** Writes a round, hands its events to the listeners, and queues its appends to resolve after its flush. */
  #round(batch: PendingAppend[]): void {
    const began = performance.now();
    let written: ReturnType<typeof writeRound>;
    let statementFailed = false;
    try {
      written = this.#transact(batch[0]!.runId, () => {
        try {
          return writeRound(this.#sql, this.#runs, (runId) => this.#leaseRow(runId), batch);
        } catch (error) {
          statementFailed = true;
          throw error;
        }
      });
    } catch (error) {
      this.#runs.clear();
      // A statement failed and the round was rolled back: only one append can be at fault, so each goes
      // again alone and the others still land. Otherwise (BEGIN, COMMIT) none was written.
      if (statementFailed && batch.length > 1) {
        for (const pending of batch) this.#round([pending]);
        return;
      }
      this.#settleAfter(batch, undefined, () => {
        for (const pending of batch) pending.reject(error);
      });
      return;
    }
    written.commit();
    this.#pacer.wrote(batch.length, began, performance.now());
    const { outcomes } = written;
    // Listeners (live views) get the events at commit, as other processes' readers do; the appends
    // resolve after the flush. Anything acting on a delivered event first appends its own intent, and
    // that intent's flush covers these frames too: the WAL is one file, written in commit order.
    const appended = batch.map((pending, i) => {
      const outcome = outcomes[i] as AppendOutcome;
      if ("error" in outcome) return undefined;
      const events = pending.stamped.map((s) => s.event);
      this.#deliverOwn(outcome.firstPos, events);
      return events;
    });
    // Begun now, so that it covers this commit; waited for in order.
    const flushed =
      this.#flushWal && batch.some((p) => p.durable)
        ? this.#syncWal().then(
            () => undefined,
            (error: unknown) => ({ error }),
          )
        : undefined;
    this.#settleAfter(batch, flushed, (failed) => {
      for (const [i, pending] of batch.entries()) {
        const outcome = outcomes[i] as AppendOutcome;
        if (failed) pending.reject(failed.error);
        else if ("error" in outcome) pending.reject(outcome.error);
        else pending.resolve(appended[i] as EntourageEvent[]);
      }
    });
  }

  /** Runs `settle` once every earlier round has settled and `flushed` (if any) has finished. */
  #settleAfter(
    batch: readonly PendingAppend[],
    flushed: Promise<{ error: unknown } | undefined> | undefined,
    settle: (failed: { error: unknown } | undefined) => void,
  ): void {
    const previous = this.#settled;
    this.#unsettled += batch.length;
    this.#settled = (async () => {
      await previous;
      const failed = await flushed;
      this.#unsettled -= batch.length;
      settle(failed);
    })();
  }

  async #syncWal(): Promise<void> {
    try {
      await this.#wal.sync();
    } catch (cause) {
      throw new SystemError(
        "store_write_failed",
        `Could not flush the event store ${this.#file} to disk: ${errorMessage(cause)}. The events may not survive a power cut.`,
        { cause },
      );
    }
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
      this.#wal.committed();
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
    return this.#durably(runId, () => {
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
    return this.#durably(lease.runId, () => {
      const now = this.#clock();
      const changed = this.#sql.renewLease.run(now, lease.runId, lease.token).changes;
      if (Number(changed) === 0) throw leaseLostError(lease.runId, this.#leaseRow(lease.runId));
      return { ...lease, heartbeatAt: now };
    });
  }

  async releaseLease(lease: RunLease): Promise<void> {
    this.#checkOpen();
    this.#durably(lease.runId, () => this.#sql.deleteLease.run(lease.runId, lease.token));
  }

  /** A lease write: its own transaction, on disk before it returns (rare: not worth a round). */
  #durably<T>(runId: string, body: () => T): T {
    const result = this.#transact(runId, body);
    if (this.#flushWal) {
      try {
        this.#wal.syncNow();
      } catch (cause) {
        throw this.#writeError(runId, cause);
      }
    }
    return result;
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
    // The rows as of the call; decoded once the schemas are loaded.
    const rows = this.#sql.readEvents.all(runId, fromSeq, limit ?? -1) as unknown as EventRow[];
    const { decodeEventRow } = loadedCodec() ?? (await loadCodec());
    return rows.map(decodeEventRow);
  }

  subscribe(runId: string | "*", listener: EventListener): () => void {
    this.#checkOpen();
    if (runId !== "*") checkRunId(runId);
    // Other processes' rows are decoded by the poller: the schemas load meanwhile.
    if (!loadedCodec()) loadCodec().catch((error: unknown) => this.#reportError(error));
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
    // Accepted appends still land: those waiting for the codec join a round as soon as it has loaded.
    if (this.#waitingForCodec > 0) await loadCodec();
    await this.#drain();
    this.#stopPolling();
    this.#wal.close();
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
    // The poller may have delivered them already: it can run while the round waits for the disk.
    const fresh = events
      .map((event, i) => ({ event, pos: firstPos + i }))
      .filter((item) => item.pos > this.#cursor);
    if (fresh.length === 0) return;
    // Move the cursor before publishing: a listener that appends re-enters here and must not re-read us.
    this.#cursor = Math.max(this.#cursor, firstPos + events.length - 1);
    this.#listeners.publish(fresh);
  }

  readonly #poll = (): void => {
    if (this.#closed || this.#listeners.size === 0 || !loadedCodec()) return;
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
          items.push({ event: (loadedCodec() as Codec).decodeEventRow(row), pos: row.pos });
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
