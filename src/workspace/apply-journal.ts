/**
 * The journal of an apply. Before the first file of the user's checkout is touched, the prior state of
 * every path the change writes or deletes (a backup of the file's bytes and mode, a symlink's target, or
 * "absent") and of the directories on those paths is recorded, with the run, its head and the plan, and
 * fsynced. An apply that stops half-way — kill -9, a crash, a full disk — leaves the journal behind; the
 * next apply into that checkout finds it, and either finishes the change (roll forward) or, asked to,
 * puts every path back exactly as it was (roll back). The journal lives under ENTOURAGE_HOME, never in
 * the checkout, in one slot per checkout: the slot's lock file also keeps two applies from interleaving.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import {
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  unlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { errorMessage, processHost, SystemError, UserError } from "../core/index.ts";
import type { RawChange } from "./changes.ts";
import { decodePath, fsPath } from "./path-bytes.ts";

export const ABSENT_MODE = "000000";

/** What a path held before the apply. */
export type PriorState =
  | { kind: "absent" }
  /** `backup` names the copy (or hard link) of the original in the slot's backup folder. */
  | { kind: "file"; mode: number; backup: string }
  | { kind: "symlink"; target: string }
  /** A directory the change replaces by a file (everything in it is deleted by the same change). */
  | { kind: "directory"; mode: number };

export interface JournalEntry {
  path: string;
  change: RawChange;
  prior: PriorState;
}

export interface ApplyJournal {
  version: 1;
  /** Random; names the temporary files of this apply (`.NAME.entourage-<id>.tmp`). */
  id: string;
  runId: string;
  /** The checkout (real path). */
  target: string;
  /** The snapshot being applied. */
  headRef: string;
  startedAt: string;
  pid: number;
  host: string;
  /** In the order they are applied: deletions first, then writes. */
  entries: JournalEntry[];
  /** Directories on the changed paths that existed before, with their modes: a roll back recreates them. */
  dirs: [path: string, mode: number][];
}

/** The temporary file an entry is written to before it is renamed into place. */
export function tempPathOf(target: string, journal: Pick<ApplyJournal, "id">, rel: string): string | Buffer {
  const dir = path.posix.dirname(rel);
  const name = `.${path.posix.basename(rel)}.entourage-${journal.id}.tmp`;
  return fsPath(target, dir === "." ? name : `${dir}/${name}`);
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/**
 * One checkout's place under `journals`, held exclusively while an apply (or its recovery) runs. A lock
 * whose process is gone is taken over; a live one refuses with `apply_in_progress`.
 */
export class ApplySlot {
  readonly dir: string;
  readonly target: string;

  private constructor(dir: string, target: string) {
    this.dir = dir;
    this.target = target;
  }

  static async acquire(journals: string, target: string): Promise<ApplySlot> {
    const key = createHash("sha256").update(target).digest("hex").slice(0, 16);
    const slot = new ApplySlot(path.join(journals, `${path.basename(target) || "root"}-${key}`), target);
    await mkdir(slot.dir, { recursive: true, mode: 0o700 });
    const owner: LockOwner = { pid: process.pid, host: processHost(), since: new Date().toISOString() };
    const mine = path.join(slot.dir, `lock.${process.pid}.${randomBytes(4).toString("hex")}`);
    await writeFile(mine, JSON.stringify(owner), { mode: 0o600 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(mine, slot.#lockPath); // atomic: the lock appears with its owner already in it
          return slot;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
        }
        const holder = await readJson<LockOwner>(slot.#lockPath);
        if (holder && isAlive(holder)) {
          throw new UserError(
            "apply_in_progress",
            `Another apply into ${target} is running (process ${holder.pid}, since ${holder.since}). ` +
              "Wait for it to finish, then try again.",
          );
        }
        await unlink(slot.#lockPath).catch(ignore("ENOENT")); // its process is gone
      }
    } finally {
      await unlink(mine).catch(ignore("ENOENT"));
    }
  }

  get #lockPath(): string {
    return path.join(this.dir, "lock");
  }

  get #journalPath(): string {
    return path.join(this.dir, "journal.json");
  }

  backupDir(journal: Pick<ApplyJournal, "id">): string {
    return path.join(this.dir, `backup-${journal.id}`);
  }

  /** The journal an interrupted apply left, if any. */
  async pending(): Promise<ApplyJournal | undefined> {
    const text = await readFile(this.#journalPath, "utf8").catch(ignore("ENOENT"));
    if (text === undefined) return undefined;
    let journal: ApplyJournal;
    try {
      journal = JSON.parse(text) as ApplyJournal;
    } catch (error) {
      throw new SystemError(
        "apply_journal_invalid",
        `The journal of an interrupted apply, ${this.#journalPath}, cannot be read (${errorMessage(error)}). ` +
          `Check ${this.target} with \`git status\`, then move the file away to apply again.`,
      );
    }
    if (journal.version !== 1 || !Array.isArray(journal.entries) || journal.target !== this.target)
      throw new SystemError(
        "apply_journal_invalid",
        `${this.#journalPath} is not a journal this version of Entourage can finish or undo. ` +
          `Check ${this.target} with \`git status\`, then move the file away to apply again.`,
      );
    return journal;
  }

  /** Removes what a process that died before writing its journal left: nothing of the checkout was touched. */
  async clearStale(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith("backup-") || name === "journal.json.tmp")
        await rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Records the prior state of every entry (backups first, then the journal) and makes it durable before
   * anything of the checkout is touched. Returns the journal with the entries' prior states filled in.
   */
  async begin(
    base: Omit<ApplyJournal, "entries" | "dirs" | "version" | "id" | "pid" | "host" | "startedAt">,
    changes: RawChange[],
  ): Promise<ApplyJournal> {
    const journal: ApplyJournal = {
      version: 1,
      id: randomBytes(6).toString("hex"),
      pid: process.pid,
      host: processHost(),
      startedAt: new Date().toISOString(),
      ...base,
      entries: [],
      dirs: [],
    };
    const backups = this.backupDir(journal);
    await mkdir(backups, { mode: 0o700 });
    const dirs = new Map<string, number>();
    let copied = false;
    for (const [index, change] of changes.entries()) {
      for (let dir = path.posix.dirname(change.path); dir !== "."; dir = path.posix.dirname(dir)) {
        if (dirs.has(dir)) break;
        const info = await lstatOrUndefined(fsPath(this.target, dir));
        if (!info?.isDirectory()) continue;
        dirs.set(dir, info.mode & 0o7777);
      }
      const file = fsPath(this.target, change.path);
      const info = await lstatOrUndefined(file);
      let prior: PriorState = { kind: "absent" };
      if (info?.isDirectory()) {
        prior = { kind: "directory", mode: info.mode & 0o7777 };
        dirs.set(change.path, prior.mode);
      } else if (info?.isSymbolicLink()) {
        prior = { kind: "symlink", target: decodePath(await readlink(file, { encoding: "buffer" })) };
      } else if (info) {
        const backup = String(index);
        copied = (await backUp(file, path.join(backups, backup), info)) || copied;
        prior = { kind: "file", mode: info.mode & 0o7777, backup };
      }
      journal.entries.push({ path: change.path, change, prior });
    }
    journal.dirs = [...dirs].sort(([a], [b]) => depth(a) - depth(b));
    if (copied) await syncFilesIn(backups, journal);
    await syncDir(backups);
    const temp = `${this.#journalPath}.tmp`;
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(JSON.stringify(journal));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.#journalPath);
    await syncDir(this.dir);
    return journal;
  }

  /** The apply (or its undoing) is complete: the journal goes first, then the backups. */
  async finish(journal: ApplyJournal): Promise<void> {
    await unlink(this.#journalPath).catch(ignore("ENOENT"));
    await syncDir(this.dir);
    await rm(this.backupDir(journal), { recursive: true, force: true });
  }

  async release(): Promise<void> {
    await unlink(this.#lockPath).catch(ignore("ENOENT"));
  }
}

/**
 * Keeps the original: a hard link when the journal is on the checkout's file system (the rename that
 * replaces the file leaves this inode untouched, so no bytes are copied), else a copy. True if copied.
 */
async function backUp(file: string | Buffer, backup: string, info: Stats): Promise<boolean> {
  try {
    await link(file, backup);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw error;
  }
  await copyFile(file, backup);
  await chmod(backup, info.mode & 0o7777);
  return true;
}

async function syncFilesIn(dir: string, journal: ApplyJournal): Promise<void> {
  for (const entry of journal.entries) {
    if (entry.prior.kind !== "file") continue;
    const handle = await open(path.join(dir, entry.prior.backup), "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== processHost()) return true; // cannot tell: assume it is
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export function depth(rel: string): number {
  return rel.split("/").length;
}

export async function lstatOrUndefined(file: string | Buffer): Promise<Stats | undefined> {
  return lstat(file).catch(ignore("ENOENT", "ENOTDIR"));
}

export function ignore(...codes: string[]) {
  return (error: NodeJS.ErrnoException): undefined => {
    if (codes.includes(error.code ?? "")) return undefined;
    throw error;
  };
}
