/**
 * The file operations of an apply, driven by its journal (apply-journal.ts): writing the change (also to
 * finish an interrupted apply), undoing it, and telling which version a path holds. Every step is safe to
 * repeat, so a recovery that is itself interrupted is simply run again.
 */
import {
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  rename,
  rmdir,
  symlink,
  unlink,
} from "node:fs/promises";
import path from "node:path";
import { SystemError } from "../core/index.ts";
import {
  ABSENT_MODE,
  type ApplyJournal,
  depth,
  ignore,
  type JournalEntry,
  lstatOrUndefined,
  tempPathOf,
} from "./apply-journal.ts";
import { gitBlobId, type RawChange } from "./changes.ts";
import { encodePath, fsPath } from "./path-bytes.ts";

const SYMLINK_MODE = "120000";
const EXECUTABLE_MODE = "100755";

export type Progress = (done: number, total: number) => void;

/** Which version of an entry's path the checkout holds now. */
export type Holding = "prior" | "new" | "neither";

export async function holding(target: string, entry: JournalEntry): Promise<Holding> {
  const file = fsPath(target, entry.path);
  const info = await lstatOrUndefined(file);
  const { change, prior } = entry;
  if (await holdsNew(file, info, change)) return "new";
  if (prior.kind === "directory") return info?.isDirectory() ? "prior" : "neither";
  if (await holdsVersion(file, info, change.oldMode, change.oldBlob)) return "prior";
  return "neither";
}

/**
 * `file` holds the run's version of `change`. A path the change deletes and a later change turns into a
 * directory (a file replaced by a folder) holds it too.
 */
export async function holdsNew(
  file: string | Buffer,
  info: Awaited<ReturnType<typeof lstatOrUndefined>>,
  change: Pick<RawChange, "newMode" | "newBlob">,
): Promise<boolean> {
  if (change.newMode === ABSENT_MODE && info?.isDirectory()) return true;
  return holdsVersion(file, info, change.newMode, change.newBlob);
}

/** `file` is `mode`/`blob` as git has it (absent for `000000`): kind, bytes, and the executable bit. */
export async function holdsVersion(
  file: string | Buffer,
  info: Awaited<ReturnType<typeof lstatOrUndefined>>,
  mode: string,
  blob: string,
): Promise<boolean> {
  if (mode === ABSENT_MODE) return info === undefined;
  if (!info) return false;
  if (mode === SYMLINK_MODE)
    return info.isSymbolicLink() && gitBlobId(await readlink(file, { encoding: "buffer" })) === blob;
  if (!info.isFile()) return false;
  if ((mode === EXECUTABLE_MODE) !== ((info.mode & 0o100) !== 0)) return false;
  const content = await readFile(file).catch(() => undefined);
  return content !== undefined && gitBlobId(content) === blob;
}

/**
 * Writes the journal's change: deletions, then each file atomically (temporary file beside it, then a
 * rename). With `resume`, entries that already hold the run's version are left as they are.
 */
export async function rollForward(
  journal: ApplyJournal,
  blobs: Map<string, Buffer>,
  options: { resume?: boolean; onProgress?: Progress } = {},
): Promise<void> {
  const total = journal.entries.length;
  for (const [index, entry] of journal.entries.entries()) {
    if (!(options.resume && (await holding(journal.target, entry)) === "new")) {
      if (entry.change.newMode === ABSENT_MODE) {
        const file = fsPath(journal.target, entry.path);
        const info = await lstatOrUndefined(file);
        if (info && !info.isDirectory()) await unlink(file);
        await removeEmptyParents(journal.target, entry.path);
      } else {
        const content = blobs.get(entry.change.newBlob);
        if (!content)
          throw new SystemError(
            "blob_missing",
            `The run's version of ${entry.path} is missing from its history.`,
          );
        await writeEntry(journal, entry, content);
      }
    }
    options.onProgress?.(index + 1, total);
  }
}

async function writeEntry(journal: ApplyJournal, entry: JournalEntry, content: Buffer): Promise<void> {
  const file = fsPath(journal.target, entry.path);
  await mkdir(fsPath(journal.target, path.posix.dirname(entry.path)), { recursive: true });
  const temp = tempPathOf(journal.target, journal, entry.path);
  await unlink(temp).catch(ignore("ENOENT"));
  const { change, prior } = entry;
  try {
    if (change.newMode === SYMLINK_MODE) {
      await symlink(content, temp);
    } else {
      const executable = change.newMode === EXECUTABLE_MODE;
      const handle = await open(temp, "wx", executable ? 0o777 : 0o666); // the umask applies
      try {
        await handle.writeFile(content);
        if (prior.kind === "file") await handle.chmod(withExecutableBit(prior.mode, executable));
      } finally {
        await handle.close();
      }
    }
    if ((await lstatOrUndefined(file))?.isDirectory()) await rmdir(file); // emptied by the deletions before
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Puts every path of the journal back as it was: removes what the change added (and the directories it
 * created), recreates the directories it removed, and restores each file from its backup (bytes and mode)
 * and each symlink's target. Temporary files the journal names are removed.
 */
export async function rollBack(journal: ApplyJournal, backups: string): Promise<void> {
  const { target } = journal;
  for (const entry of journal.entries)
    await unlink(tempPathOf(target, journal, entry.path)).catch(ignore("ENOENT", "ENOTDIR"));
  for (const entry of journal.entries.toReversed()) {
    if (entry.prior.kind !== "absent" && entry.prior.kind !== "directory") continue;
    const file = fsPath(target, entry.path);
    const info = await lstatOrUndefined(file);
    if (info && !info.isDirectory()) await unlink(file);
  }
  const existed = new Set(journal.dirs.map(([dir]) => dir));
  const created = new Set<string>();
  for (const entry of journal.entries)
    for (let dir = entry.path; dir !== "."; dir = path.posix.dirname(dir))
      if (!existed.has(dir)) created.add(dir);
  for (const dir of [...created].sort((a, b) => depth(b) - depth(a)))
    await rmdir(fsPath(target, dir)).catch(ignore("ENOENT", "ENOTDIR", "ENOTEMPTY", "EEXIST"));
  for (const [dir, mode] of journal.dirs) {
    const full = fsPath(target, dir);
    if ((await lstatOrUndefined(full))?.isDirectory()) continue;
    await mkdir(full);
    await chmod(full, mode);
  }
  for (const entry of journal.entries) {
    const { prior } = entry;
    const file = fsPath(target, entry.path);
    const temp = tempPathOf(target, journal, entry.path);
    const info = await lstatOrUndefined(file);
    if (prior.kind === "file") {
      const backup = path.join(backups, prior.backup);
      const saved = await lstat(backup);
      if (info && info.ino === saved.ino && info.dev === saved.dev) continue; // the original itself
      await link(backup, temp).catch(async () => {
        await copyFile(backup, temp);
        await chmod(temp, prior.mode);
      });
      await rename(temp, file);
    } else if (prior.kind === "symlink") {
      const priorTarget = encodePath(prior.target);
      if (info?.isSymbolicLink() && (await readlink(file, { encoding: "buffer" })).equals(priorTarget))
        continue;
      await symlink(priorTarget, temp);
      await rename(temp, file);
    }
  }
}

/** Keeps the user's permission bits and sets or clears execute where they can read. */
export function withExecutableBit(mode: number, executable: boolean): number {
  return executable ? mode | ((mode & 0o444) >> 2) : mode & ~0o111;
}

async function removeEmptyParents(target: string, rel: string): Promise<void> {
  for (let dir = path.posix.dirname(rel); dir !== "."; dir = path.posix.dirname(dir)) {
    try {
      await rmdir(fsPath(target, dir));
    } catch {
      return; // not empty (or gone): stop
    }
  }
}
