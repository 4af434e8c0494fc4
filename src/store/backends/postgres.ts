import pg from "pg";
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
import { decodeEventRow } from "../event-codec.ts";
import {
  type AppendOptions,
  type EventStore,
  type ListRunsOptions,
  type RunSummary,
  statusesOf,
} from "../event-store.ts";
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
  reportListenerError,
} from "../listeners.ts";
import { redactDatabaseUrl } from "../location.ts";
import { type EventRow, type LeaseRow, type RunRow, rowToLease, rowToSummary } from "../rows.ts";
import { foldRunSummary } from "../run-summary.ts";
import { assignSeqs, type StampedEvent, stampEvents } from "../stamp-events.ts";
import { APPEND_SQL, EVENT_COLUMNS, migratePostgresSchema, RUN_COLUMNS } from "./postgres-schema.ts";
import { PostgresTail } from "./postgres-tail.ts";

export { POSTGRES_SCHEMA_VERSION } from "./postgres-schema.ts";

export interface PostgresEventStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
  /** Connections for appends, reads and leases (the live tail has its own). Default 4. */
  poolSize?: number;
  /** How long connecting may take before the server counts as unreachable. Default 10 s. */
  connectTimeoutMs?: number;
  /** Called when a listener throws or the cross-process tail fails; default: print to stderr. */
  onError?: ListenerErrorHandler;
}

/** What `probePostgresStore` (entourage doctor) reports of a reachable store. */
export interface PostgresStoreInfo {
  serverVersion: string;
  schemaVersion: number;
  runs: number;
}

/** An append waiting for the group commit. */
interface Pending {
  runId: string;
  stamped: StampedEvent[];
  leaseToken: string | undefined;
  resolve: (events: EntourageEvent[]) => void;
  reject: (error: unknown) => void;
}

/** One group commit holds at most this many events (at least one append). */
const MAX_BATCH_EVENTS = 5000;

/**
 * Opens the PostgreSQL event store at `url` (postgres://user:password@host:port/database), creating or
 * migrating its `entourage` schema. Any number of processes on any number of hosts may open the same
 * database: seqs stay gap-free per run, leases fence writers, and subscribers see every process's
 * events through LISTEN/NOTIFY. Throws a `UserError` when the server is unreachable, the credentials are
 * refused, the database does not exist, or a newer Entourage wrote it.
 */
export async function openPostgresEventStore(
  url: string,
  options: PostgresEventStoreOptions = {},
): Promise<EventStore> {
  const where = redactDatabaseUrl(url);
  const config = connectionConfig(url, options);
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 4 });
  const report = options.onError ?? reportListenerError;
  // An idle connection the server drops must not crash the process: the next query reconnects.
  pool.on("error", (error) => report(storeError(error, where, "keeping a connection")));
  try {
    const client = await pool.connect();
    try {
      await migratePostgresSchema(client, where);
    } finally {
      client.release();
    }
  } catch (cause) {
    await pool.end().catch(() => {});
    throw openError(cause, where);
  }
  return new PostgresEventStore(pool, config, where, options);
}

/** Connects once and says what is there (server version, schema version, runs), or throws like `open`. */
export async function probePostgresStore(url: string): Promise<PostgresStoreInfo> {
  const store = (await openPostgresEventStore(url)) as PostgresEventStore;
  try {
    return await store.info();
  } finally {
    await store.close();
  }
}

function connectionConfig(url: string, options: PostgresEventStoreOptions): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: "entourage",
  };
}

class PostgresEventStore implements EventStore {
  readonly #pool: pg.Pool;
  readonly #config: pg.ClientConfig;
  readonly #where: string;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  readonly #listeners: ListenerSet;
  readonly #report: ListenerErrorHandler;
  #tail: PostgresTail | undefined;
  /** Settles once the tail listens: what is written or read after a subscribe call is ordered after it. */
  #ready: Promise<void> = Promise.resolve();
  readonly #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(pool: pg.Pool, config: pg.ClientConfig, where: string, options: PostgresEventStoreOptions) {
    this.#pool = pool;
    this.#config = config;
    this.#where = where;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? newId;
    this.#report = options.onError ?? reportListenerError;
    this.#listeners = new ListenerSet(this.#report);
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
    await this.#ready;
    return new Promise((resolve, reject) => {
      this.#queue.push({ runId, stamped, leaseToken: options.leaseToken, resolve, reject });
      this.#flush();
    });
  }

  /**
   * Group commit: while one transaction is in flight, appends queue up; the next transaction takes all of
   * them (up to MAX_BATCH_EVENTS), so concurrent appenders of this process share one commit and its
   * round trips. Each append still succeeds or fails on its own (a lost lease rejects only its append).
   */
  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = (async () => {
      while (this.#queue.length > 0) {
        let events = 0;
        let take = 0;
        while (take < this.#queue.length && (take === 0 || events < MAX_BATCH_EVENTS)) {
          events += (this.#queue[take] as Pending).stamped.length;
          take++;
        }
        await this.#commit(this.#queue.splice(0, take));
      }
    })().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#flush();
    });
  }

  async #commit(batch: Pending[]): Promise<void> {
    let result: { before: number; written: Pending[]; refused: [Pending, unknown][] };
    try {
      result = await this.#write(batch);
    } catch (error) {
      // A statement the server refused (not a lost connection, not the commit itself): only one append
      // can be at fault, so each goes again alone and the others still land.
      if (batch.length > 1 && (error as { retryAlone?: boolean }).retryAlone) {
        for (const pending of batch) await this.#commit([pending]);
        return;
      }
      const wrapped = storeError(error, this.#where, `appending to run ${batch[0]?.runId}`);
      for (const pending of batch) pending.reject(wrapped);
      return;
    }
    for (const [pending, error] of result.refused) pending.reject(error);
    const events = result.written.flatMap((p) => p.stamped.map((s) => s.event));
    const delivered = this.#tail ? this.#tail.deliverOwn(result.before, events) : Promise.resolve();
    // Resolved once delivered to this process's listeners (in order), without holding up the next commit.
    void delivered.then(() => {
      for (const pending of result.written) pending.resolve(pending.stamped.map((s) => s.event));
    });
  }

  /**
   * One transaction: lock the batch's runs, read where each stands (next seq, summary, lease), check each
   * append's lease, then insert every event, upsert the runs' rows and NOTIFY in one statement.
   */
  async #write(batch: Pending[]) {
    const client = await this.#pool.connect();
    let stage = "lock";
    let broken: Error | undefined;
    try {
      await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
      const state = await lockRuns(
        client,
        batch.map((p) => p.runId),
      );
      const written: Pending[] = [];
      const refused: [Pending, unknown][] = [];
      const runs = new Map<string, RunSummary>();
      for (const pending of batch) {
        const run = state.get(pending.runId) as { summary?: RunSummary; lease?: RunLease };
        if (pending.leaseToken !== undefined && run.lease?.token !== pending.leaseToken) {
          refused.push([pending, leaseLostError(pending.runId, run.lease)]);
          continue;
        }
        assignSeqs(pending.stamped, run.summary?.events ?? 0);
        run.summary = foldRunSummary(
          run.summary,
          pending.runId,
          pending.stamped.map((s) => s.event),
        );
        runs.set(pending.runId, run.summary);
        written.push(pending);
      }
      if (written.length === 0) {
        await client.query("ROLLBACK");
        return { before: 0, written, refused };
      }
      stage = "write";
      // Named: prepared once per connection, not parsed and planned again for every append.
      const { rows } = await client.query({
        name: "entourage_append",
        text: APPEND_SQL,
        values: appendParams(written, [...runs.values()]),
      });
      stage = "commit";
      await client.query("COMMIT");
      return { before: Number((rows[0] as { first: number }).first), written, refused };
    } catch (error) {
      if (stage !== "commit") await client.query("ROLLBACK").catch((e: Error) => (broken = e));
      else broken = error as Error;
      if (stage !== "commit" && !broken && error instanceof pg.DatabaseError && !isConnectionError(error))
        (error as { retryAlone?: boolean }).retryAlone = true;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async acquireLease(runId: string, holder: LeaseHolder, ttlMs: number): Promise<LeaseAttempt> {
    this.#checkOpen();
    checkRunId(runId);
    return this.#withRun(runId, "taking the lease of", async (client, current) => {
      const attempt = decideAcquire(runId, current, holder, ttlMs, this.#clock());
      if (attempt.ok) {
        const { lease } = attempt;
        await client.query(
          `INSERT INTO entourage.leases (run_id, token, pid, host, label, acquired_at, heartbeat_at, ttl_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (run_id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host,
             label = excluded.label, acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at,
             ttl_ms = excluded.ttl_ms`,
          [
            runId,
            lease.token,
            lease.holder.pid,
            lease.holder.host,
            lease.holder.label,
            lease.acquiredAt,
            lease.heartbeatAt,
            lease.ttlMs,
          ],
        );
      }
      return attempt;
    });
  }

  async renewLease(lease: RunLease): Promise<RunLease> {
    this.#checkOpen();
    return this.#withRun(lease.runId, "renewing the lease of", async (client, current) => {
      if (current?.token !== lease.token) throw leaseLostError(lease.runId, current);
      const now = this.#clock();
      await client.query("UPDATE entourage.leases SET heartbeat_at = $1 WHERE run_id = $2", [
        now,
        lease.runId,
      ]);
      return { ...lease, heartbeatAt: now };
    });
  }

  async releaseLease(lease: RunLease): Promise<void> {
    this.#checkOpen();
    await this.#withRun(lease.runId, "releasing the lease of", (client) =>
      client.query("DELETE FROM entourage.leases WHERE run_id = $1 AND token = $2", [
        lease.runId,
        lease.token,
      ]),
    );
  }

  async readLease(runId: string): Promise<RunLease | undefined> {
    const rows = await this.#query<LeaseRow>(
      `reading the lease of run ${runId}`,
      "SELECT * FROM entourage.leases WHERE run_id = $1",
      [runId],
    );
    return rows[0] && rowToLease(rows[0]);
  }

  /** `body` in a transaction holding the run's lock (the one appends take), given the run's lease. */
  async #withRun<T>(
    runId: string,
    doing: string,
    body: (client: pg.PoolClient, lease: RunLease | undefined) => Promise<T>,
  ): Promise<T> {
    await this.#ready;
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await this.#pool.connect();
      await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
      const state = await lockRuns(client, [runId]);
      const result = await body(client, state.get(runId)?.lease);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client?.query("ROLLBACK").catch((e: Error) => (broken = e));
      throw storeError(error, this.#where, `${doing} run ${runId}`);
    } finally {
      client?.release(broken);
    }
  }

  async read(runId: string, options: { fromSeq?: number; limit?: number } = {}): Promise<EntourageEvent[]> {
    this.#checkOpen();
    const { fromSeq, limit } = checkReadOptions(options);
    const rows = await this.#query<EventRow>(
      `reading run ${runId}`,
      `SELECT ${EVENT_COLUMNS} FROM entourage.events WHERE run_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
      [runId, fromSeq, limit ?? null],
    );
    return rows.map(decodeEventRow);
  }

  subscribe(runId: string | "*", listener: EventListener): () => void {
    this.#checkOpen();
    if (runId !== "*") checkRunId(runId);
    if (!this.#tail) {
      this.#tail = new PostgresTail(this.#config, this.#listeners, this.#where, (error) =>
        this.#report(error),
      );
      this.#ready = this.#tail.start();
    }
    return this.#listeners.add(runId, listener, this.#tail.cursor);
  }

  /** Every commit is durable when it returns (`synchronous_commit` is the server's: on by default). */
  async sync(): Promise<void> {
    this.#checkOpen();
    while (this.#flushing) await this.#flushing;
  }

  async listRuns(options: ListRunsOptions = {}): Promise<RunSummary[]> {
    this.#checkOpen();
    const limit = checkLimit(options.limit);
    const runColumns = RUN_COLUMNS.split(", ")
      .map((c) => `r.${c}`)
      .join(", ");
    const rows = await this.#query<RunRow & Partial<LeaseRow>>(
      "listing runs",
      `SELECT ${runColumns}, l.token, l.pid, l.host, l.label, l.acquired_at, l.heartbeat_at, l.ttl_ms
         FROM entourage.runs r LEFT JOIN entourage.leases l USING (run_id)
        WHERE ($1::text[] IS NULL OR r.status = ANY($1))
        ORDER BY r.created_at DESC, r.run_id COLLATE "C" DESC LIMIT $2`,
      [statusesOf(options.status) ?? null, limit ?? null],
    );
    const now = this.#clock();
    return rows.map((row) =>
      withDriver(rowToSummary(row), row.token ? rowToLease(row as LeaseRow) : undefined, now),
    );
  }

  async nextSeq(runId: string): Promise<number> {
    this.#checkOpen();
    const rows = await this.#query<{ events: number }>(
      `reading run ${runId}`,
      "SELECT events FROM entourage.runs WHERE run_id = $1",
      [runId],
    );
    return rows[0]?.events ?? 0;
  }

  /** For `doctor`: the server's version, the schema's, and how many runs the store holds. */
  async info(): Promise<PostgresStoreInfo> {
    const [row] = await this.#query<{ server: string; schema: string; runs: number }>(
      "reading the store's versions",
      `SELECT current_setting('server_version') AS server,
              (SELECT value FROM entourage.meta WHERE key = 'schema_version') AS schema,
              (SELECT count(*)::int FROM entourage.runs) AS runs`,
    );
    return { serverVersion: row?.server ?? "?", schemaVersion: Number(row?.schema), runs: row?.runs ?? 0 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready;
    while (this.#flushing) await this.#flushing; // accepted appends still land
    await this.#tail?.close();
    await this.#pool.end();
  }

  async #query<T>(doing: string, sql: string, params: unknown[] = []): Promise<T[]> {
    this.#checkOpen();
    await this.#ready;
    try {
      return (await this.#pool.query(sql, params)).rows as T[];
    } catch (error) {
      throw storeError(error, this.#where, doing);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new EntourageError("store_closed", `The event store ${this.#where} is closed.`);
  }
}

/** Locks the runs (see `entourage.lock_runs`) and returns where each stands. */
async function lockRuns(
  client: pg.ClientBase,
  runIds: readonly string[],
): Promise<Map<string, { summary?: RunSummary; lease?: RunLease }>> {
  const { rows } = await client.query({
    name: "entourage_lock_runs",
    text: "SELECT run_id, run, lease FROM entourage.lock_runs($1)",
    values: [[...new Set(runIds)]],
  });
  const state = new Map<string, { summary?: RunSummary; lease?: RunLease }>();
  for (const row of rows as { run_id: string; run: RunRow | null; lease: LeaseRow | null }[]) {
    state.set(row.run_id, {
      ...(row.run ? { summary: rowToSummary(row.run) } : {}),
      ...(row.lease ? { lease: rowToLease(row.lease) } : {}),
    });
  }
  return state;
}

/** APPEND_SQL's parameters: the events' columns and the runs' columns, each as one array. */
function appendParams(written: readonly Pending[], runs: readonly RunSummary[]): unknown[] {
  const events = written.flatMap((p) => p.stamped);
  const column = <T>(pick: (s: StampedEvent) => T) => events.map(pick);
  const runColumn = <T>(pick: (r: RunSummary) => T) => runs.map(pick);
  return [
    events.length,
    column((s) => s.event.runId),
    column((s) => s.event.seq),
    column((s) => s.event.id),
    column((s) => s.event.time),
    column((s) => s.event.type),
    column((s) => s.event.agentId ?? null),
    column((s) => s.event.parentId ?? null),
    column((s) => s.event.v),
    column((s) => s.dataJson),
    runColumn((r) => r.runId),
    runColumn((r) => r.task),
    runColumn((r) => r.repo),
    runColumn((r) => r.status),
    runColumn((r) => r.createdAt),
    runColumn((r) => r.updatedAt),
    runColumn((r) => r.events),
    runColumn((r) => r.inputTokens),
    runColumn((r) => r.outputTokens),
    runColumn((r) => r.costUsd),
    runColumn((r) => r.costKnown),
    runColumn((r) => r.verification ?? null),
  ];
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

/** A failure to reach or stay connected to the server (rather than a statement it refused). */
function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; errors?: { code?: string }[]; message?: string };
  const code = e.code ?? e.errors?.[0]?.code;
  if (code && (CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("57P"))) return true;
  return /connection (timeout|terminated)|Connection terminated/i.test(e.message ?? "");
}

/** Why opening failed, for the person who chose the store. */
function openError(cause: unknown, where: string): EntourageError {
  if (EntourageError.isInstance(cause)) return cause;
  const code = (cause as { code?: string }).code;
  const reason = errorMessage(cause) || (cause as { code?: string }).code || "unknown error";
  const fix = "Check --store / ENTOURAGE_DATABASE_URL.";
  if (code === "28P01" || code === "28000") {
    return new UserError(
      "store_auth_failed",
      `PostgreSQL refused the credentials for the event store ${where}: ${reason}. Check the user and password in the URL. ${fix}`,
      { cause },
    );
  }
  if (code === "3D000") {
    return new UserError(
      "store_database_missing",
      `The database of the event store ${where} does not exist: ${reason}. Create it (createdb), or ${fix.toLowerCase()}`,
      { cause },
    );
  }
  if (code === "42501") {
    return new UserError(
      "store_permission",
      `The PostgreSQL user of ${where} may not create Entourage's tables: ${reason}. Grant it CREATE on the database, or ${fix.toLowerCase()}`,
      { cause },
    );
  }
  if (isConnectionError(cause)) {
    return new UserError(
      "store_unreachable",
      `Cannot reach the PostgreSQL event store ${where}: ${reason}. Is the server running and reachable from here? ${fix}`,
      { cause },
    );
  }
  return new UserError(
    "store_unreadable",
    `Cannot open the PostgreSQL event store ${where}: ${reason}. ${fix}`,
    { cause },
  );
}

/** A failure after the store opened: the system's (retryable when the connection dropped). */
function storeError(error: unknown, where: string, doing: string): EntourageError {
  if (EntourageError.isInstance(error)) return error;
  const connection = isConnectionError(error);
  return new SystemError(
    connection ? "store_unreachable" : "store_failed",
    `The event store ${where} failed ${doing}: ${errorMessage(error)}.${connection ? " The server may be down or unreachable; try again once it answers." : ""}`,
    { cause: error, retryable: connection },
  );
}
