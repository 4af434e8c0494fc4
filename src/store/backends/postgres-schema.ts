import type pg from "pg";
import { UserError } from "../../core/index.ts";

/**
 * Version of the PostgreSQL layout. Each entry of `migrations` moves a database up one version, inside
 * the transaction that records the new version (PostgreSQL's DDL is transactional: a failed migration
 * leaves nothing behind); released migrations never change. Everything lives in the `entourage` schema,
 * so the store can share a database with other applications.
 */
export const POSTGRES_SCHEMA_VERSION = 1;

/** The NOTIFY channel: the payload is the global position of the last event a transaction committed. */
export const EVENTS_CHANNEL = "entourage_events";

/**
 * Advisory lock classes (the first key of `pg_advisory_xact_lock(int, int)`), so Entourage's locks never
 * collide with another application's single-key locks in the same database.
 */
export const RUN_LOCK_CLASS = 0x454e5452; // "ENTR": one run (key: hashtext(run_id))
const MIGRATION_LOCK_CLASS = 0x454e544d; // "ENTM": schema migrations

const migrations: readonly string[] = [
  // v1.
  // `events.pos` is the global append order, assigned from the one-row `position` table inside the append
  // transaction: its row lock is held until commit, so positions are gap-free and become visible in
  // order — a reader that sees position n has seen every position below it, which is what lets tailing
  // processes read "pos > cursor" exactly once. (run_id, seq) is the run's gap-free position; UNIQUE
  // makes a duplicate seq impossible whatever the writers do. `data` is the event's JSON text, stored as
  // written so what `read` returns is exactly what `append` returned.
  `CREATE TABLE entourage.events (
     pos bigint PRIMARY KEY,
     run_id text NOT NULL,
     seq integer NOT NULL,
     id text NOT NULL,
     time double precision NOT NULL,
     type text NOT NULL,
     agent_id text,
     parent_id text,
     v integer NOT NULL,
     data text NOT NULL,
     UNIQUE (run_id, seq)
   );
   CREATE TABLE entourage.position (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     last bigint NOT NULL
   );
   INSERT INTO entourage.position (last) VALUES (0);
   CREATE TABLE entourage.runs (
     run_id text PRIMARY KEY,
     task text NOT NULL,
     repo text NOT NULL,
     status text NOT NULL,
     created_at double precision NOT NULL,
     updated_at double precision NOT NULL,
     events integer NOT NULL,
     input_tokens bigint NOT NULL,
     output_tokens bigint NOT NULL,
     cost_usd double precision NOT NULL,
     cost_known boolean NOT NULL,
     verification text
   );
   CREATE INDEX runs_by_created ON entourage.runs (created_at DESC, run_id COLLATE "C" DESC);
   CREATE INDEX runs_by_status ON entourage.runs (status, created_at DESC, run_id COLLATE "C" DESC);
   CREATE TABLE entourage.leases (
     run_id text PRIMARY KEY,
     token text NOT NULL,
     pid integer NOT NULL,
     host text NOT NULL,
     label text NOT NULL,
     acquired_at double precision NOT NULL,
     heartbeat_at double precision NOT NULL,
     ttl_ms integer NOT NULL
   );
   -- Locks the given runs (in key order, so two writers locking several runs never deadlock) until the
   -- transaction ends, then returns each run's list row and lease as they are now: a volatile function
   -- takes a fresh snapshot per statement, so the rows read after the lock include the previous holder's
   -- commit. One round trip for "lock, then read where the run stands".
   CREATE FUNCTION entourage.lock_runs(run_ids text[])
   RETURNS TABLE (run_id text, run json, lease json)
   LANGUAGE plpgsql VOLATILE AS $$
   BEGIN
     PERFORM pg_advisory_xact_lock(${RUN_LOCK_CLASS}, k)
       FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest(run_ids) AS id ORDER BY k) AS keys;
     RETURN QUERY
       SELECT u.id,
              CASE WHEN r.run_id IS NULL THEN NULL ELSE row_to_json(r) END,
              CASE WHEN l.run_id IS NULL THEN NULL ELSE row_to_json(l) END
         FROM unnest(run_ids) AS u(id)
         LEFT JOIN entourage.runs r ON r.run_id = u.id
         LEFT JOIN entourage.leases l ON l.run_id = u.id;
   END $$;`,
];

/**
 * Brings the database to `POSTGRES_SCHEMA_VERSION` on open. Concurrent openers (several hosts starting
 * at once) are serialised by an advisory lock, and the version is re-read under it, so
 * each migration runs once. Throws `store_schema_newer` for a database a newer Entourage wrote, and
 * `store_not_entourage` for an `entourage` schema that is not ours.
 */
export async function migratePostgresSchema(client: pg.ClientBase, where: string): Promise<number> {
  const current = await readSchemaVersion(client, where);
  if (current === POSTGRES_SCHEMA_VERSION) return current;
  // A session lock taken before the transaction starts: the transaction then begins after the other
  // opener's commit and sees its tables (a lock taken inside it would leave stale catalog caches).
  await client.query("SELECT pg_advisory_lock($1, 0)", [MIGRATION_LOCK_CLASS]);
  try {
    await client.query("BEGIN");
    const version = await readSchemaVersion(client, where);
    if (version === 0) {
      const foreign = await client.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'entourage' AND tablename <> 'meta'",
      );
      if ((foreign.rows[0] as { n: number }).n > 0) {
        throw new UserError(
          "store_not_entourage",
          `The database ${where} has a schema "entourage" that is not an Entourage event store (no schema version). ` +
            "Point --store / ENTOURAGE_DATABASE_URL at another database, or drop that schema.",
        );
      }
      await client.query(
        "CREATE SCHEMA IF NOT EXISTS entourage; CREATE TABLE IF NOT EXISTS entourage.meta (key text PRIMARY KEY, value text NOT NULL)",
      );
    }
    for (let next = version + 1; next <= POSTGRES_SCHEMA_VERSION; next++)
      await client.query(migrations[next - 1] as string);
    await client.query(
      `INSERT INTO entourage.meta (key, value) VALUES ('schema_version', $1)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [String(POSTGRES_SCHEMA_VERSION)],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, 0)", [MIGRATION_LOCK_CLASS]).catch(() => {});
  }
  return POSTGRES_SCHEMA_VERSION;
}

async function readSchemaVersion(client: pg.ClientBase, where: string): Promise<number> {
  const meta = await client.query("SELECT to_regclass('entourage.meta') IS NOT NULL AS present");
  if (!(meta.rows[0] as { present: boolean }).present) return 0;
  const row = (await client.query("SELECT value FROM entourage.meta WHERE key = 'schema_version'")).rows[0] as
    | { value: string }
    | undefined;
  const version = row ? Number(row.value) : 0;
  if (!Number.isInteger(version) || version < 0) {
    throw new UserError(
      "store_unreadable",
      `The event store ${where} records an invalid schema version ${row?.value}.`,
    );
  }
  if (version > POSTGRES_SCHEMA_VERSION) {
    throw new UserError(
      "store_schema_newer",
      `The event store ${where} was written by a newer Entourage (schema version ${version}; this one reads up to ` +
        `${POSTGRES_SCHEMA_VERSION}). Upgrade Entourage, or point --store / ENTOURAGE_DATABASE_URL at another database.`,
    );
  }
  return version;
}

/** The columns of `entourage.events`, in the order the append's arrays are sent. */
export const EVENT_COLUMNS = "run_id, seq, id, time, type, agent_id, parent_id, v, data";
export const RUN_COLUMNS =
  "run_id, task, repo, status, created_at, updated_at, events, input_tokens, output_tokens, cost_usd, cost_known, verification";

/**
 * One append transaction's writes, in one statement (one round trip): take the next global positions
 * (the `position` row lock, held until commit, orders commits), insert the events, upsert the runs'
 * list rows, and NOTIFY tailing processes with the last position. Parameters: $1 the number of events,
 * $2..$10 the events' columns as arrays, $11..$22 the runs' columns as arrays.
 */
export const APPEND_SQL = `
  WITH p AS (
    UPDATE entourage.position SET last = last + $1 RETURNING last - $1 AS first
  ), ev AS (
    INSERT INTO entourage.events (pos, ${EVENT_COLUMNS})
    SELECT p.first + e.ord, e.run_id, e.seq, e.id, e.time, e.type, e.agent_id, e.parent_id, e.v, e.data
      FROM p, unnest($2::text[], $3::int[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::text[],
                     $9::int[], $10::text[])
           WITH ORDINALITY AS e(run_id, seq, id, time, type, agent_id, parent_id, v, data, ord)
  ), ru AS (
    INSERT INTO entourage.runs (${RUN_COLUMNS})
    SELECT * FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::float8[], $16::float8[],
                         $17::int[], $18::bigint[], $19::bigint[], $20::float8[], $21::boolean[], $22::text[])
    ON CONFLICT (run_id) DO UPDATE SET task = excluded.task, repo = excluded.repo, status = excluded.status,
      created_at = excluded.created_at, updated_at = excluded.updated_at, events = excluded.events,
      input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
      cost_usd = excluded.cost_usd, cost_known = excluded.cost_known, verification = excluded.verification
  )
  SELECT p.first::float8 AS first, pg_notify('${EVENTS_CHANNEL}', (p.first + $1)::text) FROM p`;
