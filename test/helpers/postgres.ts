/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temp dir (as the `postgres` user
 * when running as root, since the server refuses to run as root), `pg_ctl start` on 127.0.0.1 and a free
 * port with password authentication, one fresh database per store, stopped and removed at the end (and at
 * process exit, should a test crash). Uses the Debian packages' binaries (/usr/lib/postgresql/N/bin), or
 * the directory in PG_BIN.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export interface PostgresCluster {
  port: number;
  /** Superuser and its password (host connections need the password). */
  user: string;
  password: string;
  /** postgres://postgres:…@127.0.0.1:port/<database> */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Runs SQL as the superuser in `database` (default: postgres) and returns the rows. */
  query(sql: string, params?: unknown[], database?: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** The directory with initdb and pg_ctl, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Starts a private cluster; throws saying why when it cannot (not installed, initdb or start failed). */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; set PG_BIN): apt-get install -y postgresql",
    );
  }
  const asRoot = process.getuid?.() === 0;
  // The server refuses to run as root: run its binaries as the `postgres` user the Debian package creates.
  const owner = asRoot ? execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim() : undefined;
  const as = (file: string, args: string[]) =>
    asRoot
      ? (["runuser", ["-u", "postgres", "--", join(bin, file), ...args]] as const)
      : ([join(bin, file), args] as const);

  const dir = mkdtempSync(join(tmpdir(), "entourage-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${password}\n`);
  if (owner !== undefined) {
    chownSync(dir, Number(owner), Number(owner));
    chownSync(pwfile, Number(owner), Number(owner));
  }
  chmodSync(dir, 0o700);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const [cmd, args] = as("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
    ]);
    await run(cmd, [...args]);
  } catch (error) {
    remove();
    throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }

  let port = 0;
  let started = false;
  let lastError = "";
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    port = await freePort();
    const [cmd, args] = as("pg_ctl", [
      "-D",
      data,
      "-l",
      log,
      "-w",
      "-t",
      "30",
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories='' -c max_connections=200`,
      "start",
    ]);
    try {
      await run(cmd, [...args]);
      started = true;
    } catch (error) {
      lastError = (error as { stderr?: string }).stderr ?? String(error); // the port was taken meanwhile
    }
  }
  if (!started) {
    remove();
    throw new Error(`pg_ctl start failed: ${lastError}`);
  }
  const stopArgs = as("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  // Should the test process die without `stop`, the server must not outlive it.
  const onExit = () => {
    spawnSync(stopArgs[0], [...stopArgs[1]], { stdio: "ignore" });
    remove();
  };
  process.once("exit", onExit);

  const user = "postgres";
  const url = (database = "postgres") => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  let databases = 0;
  const query = async (sql: string, params: unknown[] = [], database = "postgres") => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  return {
    port,
    user,
    password,
    url,
    query,
    async createDatabase(prefix = "t") {
      const name = `${prefix}_${process.pid}_${databases++}`;
      await query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener("exit", onExit);
      await run(stopArgs[0], [...stopArgs[1]]).catch(() => {});
      remove();
    },
  };
}

/**
 * The cluster for a test file, or the reason it cannot run here. Under ENTOURAGE_CI=1 a missing or broken
 * PostgreSQL throws (the suite FAILS); otherwise the caller skips with the reason.
 */
export async function postgresForTests(): Promise<{ cluster?: PostgresCluster; skip?: string }> {
  try {
    return { cluster: await startPostgresCluster() };
  } catch (error) {
    const why = `PostgreSQL cluster unavailable: ${(error as Error).message}`;
    if (process.env.ENTOURAGE_CI === "1") throw new Error(`${why} (.ci/run installs postgresql)`);
    return { skip: why };
  }
}
