import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";

/** Where the event store is: a PostgreSQL database (scale-out) or a SQLite file (the embedded default). */
export type StoreLocation =
  | { kind: "postgres"; url: string; display: string; source: StoreSource }
  | { kind: "sqlite"; path: string; display: string; source: StoreSource };

/** What chose the store, for `doctor` and error messages. */
export type StoreSource = "--store" | "ENTOURAGE_DATABASE_URL" | "default";

/** Where the embedded event store lives inside the Entourage home directory. */
export function defaultDatabasePath(home: string): string {
  return join(home, "entourage.db");
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The store to open: `--store` when given, else `ENTOURAGE_DATABASE_URL`, else the SQLite file in the
 * Entourage home. A postgres:// (or postgresql://) URL picks PostgreSQL; a path picks a SQLite file there.
 */
export function resolveStoreLocation(options: {
  flag?: string;
  env?: NodeJS.ProcessEnv;
  home: string;
}): StoreLocation {
  const fromFlag = options.flag?.trim();
  const fromEnv = options.env?.ENTOURAGE_DATABASE_URL?.trim();
  const [value, source]: [string | undefined, StoreSource] = fromFlag
    ? [fromFlag, "--store"]
    : fromEnv
      ? [fromEnv, "ENTOURAGE_DATABASE_URL"]
      : [undefined, "default"];
  if (value === undefined) {
    const path = defaultDatabasePath(options.home);
    return { kind: "sqlite", path, display: path, source };
  }
  if (POSTGRES_URL.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new UserError(
        "store_bad_url",
        `${source} is not a valid PostgreSQL URL (${redactDatabaseUrl(value)}); expected postgres://user:password@host:5432/database.`,
      );
    }
    return { kind: "postgres", url: value, display: redactDatabaseUrl(value), source };
  }
  if (ANY_URL.test(value)) {
    throw new UserError(
      "store_unsupported",
      `${source} names a store Entourage does not know (${redactDatabaseUrl(value)}): give a postgres:// URL ` +
        "for PostgreSQL, or a file path for SQLite (nothing: the default in the Entourage home).",
    );
  }
  const path = value === "~" || value.startsWith("~/") ? join(homedir(), value.slice(1)) : resolve(value);
  return { kind: "sqlite", path, display: path, source };
}

/** The URL without its password (user info or `password=` parameter): safe to print and log. */
export function redactDatabaseUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^@/?#]*@/i, "$1:***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}
