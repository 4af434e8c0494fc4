import type { DatabaseSync } from "node:sqlite";
import { UserError } from "../../core/errors.ts";

/**
 * Version of the SQLite layout. Each entry of `migrations` moves a database up one version, inside the
 * transaction that records the new version; released migrations never change. A fixture database of
 * every released version stays in test/store/fixtures with a test that opens and reads it.
 */
export const SQLITE_SCHEMA_VERSION = 3;

const migrations: readonly string[] = [
  // v1. `pos` is the global append order (what "*" subscribers and other processes tail); an explicit
  // AUTOINCREMENT key so VACUUM never renumbers it and a deleted tail is never reused. (run_id, seq)
  // is the run's gap-free position; UNIQUE makes a duplicate seq impossible whatever the writers do.
  `CREATE TABLE events (
     pos INTEGER PRIMARY KEY AUTOINCREMENT,
     run_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     id TEXT NOT NULL,
     time REAL NOT NULL,
     type TEXT NOT NULL,
     agent_id TEXT,
     parent_id TEXT,
     v INTEGER NOT NULL,
     data TEXT NOT NULL,
     UNIQUE (run_id, seq)
   ) STRICT;
   CREATE TABLE runs (
     run_id TEXT PRIMARY KEY,
     task TEXT NOT NULL,
     repo TEXT NOT NULL,
     status TEXT NOT NULL,
     created_at REAL NOT NULL,
     updated_at REAL NOT NULL,
     events INTEGER NOT NULL,
     input_tokens INTEGER NOT NULL,
     output_tokens INTEGER NOT NULL,
     cost_usd REAL NOT NULL,
     cost_known INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);
   CREATE INDEX runs_by_status ON runs (status, created_at DESC, run_id DESC);`,
  // v2. The orchestrator's own verdict on a run's change (`verification.ended`): passed, failed or
  // not_verified; NULL for a run that changed nothing and for runs logged before verification existed.
  "ALTER TABLE runs ADD COLUMN verification TEXT;",
  // v3. One driver per run: the lease of the process driving it (src/store/lease.ts). A row is the
  // current holder, live or stale; appends that carry a token are checked against it under the write lock.
  `CREATE TABLE leases (
     run_id TEXT PRIMARY KEY,
     token TEXT NOT NULL,
     pid INTEGER NOT NULL,
     host TEXT NOT NULL,
     label TEXT NOT NULL,
     acquired_at REAL NOT NULL,
     heartbeat_at REAL NOT NULL,
     ttl_ms INTEGER NOT NULL
   ) STRICT;`,
];

/**
 * Brings the database at `file` to `SQLITE_SCHEMA_VERSION`. Concurrent openers are serialised by
 * `BEGIN IMMEDIATE`, and the version is re-read under the lock, so each migration runs once.
 */
export function migrateSqliteSchema(db: DatabaseSync, file: string): void {
  if (readSchemaVersion(db, file) === SQLITE_SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = readSchemaVersion(db, file);
    if (version === 0 && hasForeignTables(db)) {
      throw new UserError(
        "store_not_entourage",
        `${file} is a SQLite database but not an Entourage event store. Point ENTOURAGE_HOME at another ` +
          "directory, or move the file aside.",
      );
    }
    db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT");
    for (let next = version + 1; next <= SQLITE_SCHEMA_VERSION; next++)
      db.exec(migrations[next - 1] as string);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(
      String(SQLITE_SCHEMA_VERSION),
    );
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

function readSchemaVersion(db: DatabaseSync, file: string): number {
  const meta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!meta) return 0;
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  const version = row ? Number(row.value) : 0;
  if (!Number.isInteger(version) || version < 0) {
    throw new UserError("store_unreadable", `${file} records an invalid schema version ${row?.value}.`);
  }
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new UserError(
      "store_schema_newer",
      `The event store ${file} was written by a newer Entourage (schema version ${version}; this one reads up to ` +
        `${SQLITE_SCHEMA_VERSION}). Upgrade Entourage, or set ENTOURAGE_HOME to use a separate store.`,
    );
  }
  return version;
}

function hasForeignTables(db: DatabaseSync): boolean {
  const row = db
    .prepare(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT IN ('meta', 'sqlite_sequence')",
    )
    .get() as { n: number };
  return row.n > 0;
}
