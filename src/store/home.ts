import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Directory where Entourage keeps its state (event database, run workspaces): `ENTOURAGE_HOME` when
 * set and non-empty, else `~/.entourage`. Always absolute.
 */
export function entourageHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.ENTOURAGE_HOME;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return resolve(fromEnv);
  return join(homedir(), ".entourage");
}

/**
 * Modes of everything under ENTOURAGE_HOME: the event log holds prompts, code and command output, the
 * workspaces hold the user's code, the token opens the API. Only the user may read any of it. A mode
 * given to `mkdir`/`open` can only lose bits to the umask, so these hold under any usual umask (022,
 * 002) without a chmod; `makePrivateDir` chmods anyway, for a umask that takes the owner's bits too.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Makes `dir` and any missing parents with mode 0700 (whatever the umask); an existing one is left as it is. */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  for (let at = resolve(dir); at.length >= first.length; at = resolve(at, "..")) {
    chmodSync(at, PRIVATE_DIR_MODE);
    if (at === first) break;
  }
}

/** An entry of the home that others could read or enter, and what it was tightened to. */
export interface LoosePath {
  path: string;
  /** Permission bits found. */
  was: number;
  /** Permission bits now; undefined when the chmod failed (another user's file). */
  now?: number;
}

/**
 * Tightens a home made by an older version or under a loose umask: the home itself, everything directly
 * in it (the event log and its -wal/-shm, token, trusted.json, config, runs/, servers/, agents/), each
 * run's directory and what it holds directly (workspace, shadow.git). Deeper entries are not visited
 * (a workspace can hold 100k files): every directory above them is 0700 afterwards, so nobody else can
 * reach them. Never follows symlinks. Returns what was too open, for `doctor` and the start-up note.
 * Each run's directory is visited with `everyRun` (doctor) or when the home itself was open.
 */
export function secureHome(home: string, options: { everyRun?: boolean } = {}): LoosePath[] {
  const loose: LoosePath[] = [];
  const tighten = (path: string, depth: number) => {
    const info = lstatOrUndefined(path);
    if (!info || info.isSymbolicLink()) return;
    const was = info.mode & 0o7777;
    if ((was & 0o077) !== 0) {
      // Directories 0700; files keep only their owner's bits (0600, or 0700 for an executable).
      const now = info.isDirectory() ? PRIVATE_DIR_MODE : was & 0o700;
      try {
        chmodSync(path, now);
        loose.push({ path, was, now });
      } catch {
        loose.push({ path, was });
      }
    }
    if (!info.isDirectory() || depth === 0) return;
    for (const name of readdirOrEmpty(path)) tighten(join(path, name), depth - 1);
  };
  // home (depth 0) → its entries (1) → runs/<id> (2) → runs/<id>/workspace, shadow.git (3)
  const info = lstatOrUndefined(home);
  if (!info?.isDirectory()) return loose;
  tighten(home, 1);
  const runs = join(home, "runs");
  // Every run's folders are looked at only when asked (doctor) or when the home itself was left open: what
  // this version creates is private already, so a start-up does not stat thousands of runs for nothing.
  const homeWasOpen = loose.length > 0;
  if ((options.everyRun || homeWasOpen) && lstatOrUndefined(runs)?.isDirectory()) {
    for (const id of readdirOrEmpty(runs)) tighten(join(runs, id), 1);
  }
  return loose;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
