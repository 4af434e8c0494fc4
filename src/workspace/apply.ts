import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rmdir,
  symlink,
  unlink,
} from "node:fs/promises";
import path from "node:path";
import { errorMessage, SystemError, UserError } from "../core/index.ts";
import { gitBlobId, type RawChange } from "./changes.ts";
import type { SkippedPath } from "./copy-repo.ts";
import { fsPath } from "./path-bytes.ts";

const SYMLINK_MODE = "120000";
const GITLINK_MODE = "160000";
const EXECUTABLE_MODE = "100755";

export interface ApplyPlan {
  /** The user's checkout (absolute, real path). */
  target: string;
  /** Baseline → head, as git's raw diff. */
  changes: RawChange[];
  /** Reads blob contents from the shadow git. */
  readBlobs(ids: string[]): Promise<Map<string, Buffer>>;
}

export interface ApplyOutcome {
  /** Paths written or deleted in the target, sorted. */
  files: string[];
  skipped: SkippedPath[];
}

interface Conflict {
  path: string;
  reason: string;
}

/**
 * Writes a run's change into the user's checkout. First checks every changed path still holds its
 * baseline content (same bytes, same kind, same executable bit; absent for added files); if anything
 * differs, refuses with `checkout_changed` and writes nothing. Then deletes, then writes each file
 * atomically (temporary file in the same directory + rename). Never touches `.git`.
 */
export async function applyPlan(plan: ApplyPlan): Promise<ApplyOutcome> {
  const skipped: SkippedPath[] = [];
  const changes: RawChange[] = [];
  for (const change of plan.changes) {
    if (change.path.split("/").some((p) => p.toLowerCase() === ".git" || p === ".." || p === "")) {
      skipped.push({ path: change.path, reason: "inside .git (never written)" });
    } else if (change.oldMode === GITLINK_MODE || change.newMode === GITLINK_MODE) {
      skipped.push({ path: change.path, reason: "nested git repository or submodule (not applied)" });
    } else {
      changes.push(change);
    }
  }

  const deleted = new Set(changes.filter((c) => c.newMode === "000000").map((c) => c.path));
  const conflicts: Conflict[] = [];
  for (const change of changes) {
    const reason = await checkBaseline(plan.target, change, deleted);
    if (reason) conflicts.push({ path: change.path, reason });
  }
  if (conflicts.length > 0) {
    const list = conflicts.map((c) => `  ${c.path}: ${c.reason}`).join("\n");
    throw new UserError(
      "checkout_changed",
      `Nothing was applied: ${conflicts.length} file(s) in ${plan.target} changed since the run copied them:\n${list}\n` +
        "Stash or commit-and-revert your edits to these files (e.g. `git stash`), then apply again; " +
        "or save the run's diff and merge it by hand (`git apply --3way`).",
    );
  }

  const blobs = await plan.readBlobs(changes.filter((c) => c.newMode !== "000000").map((c) => c.newBlob));
  const written: string[] = [];
  try {
    for (const change of changes.filter((c) => c.newMode === "000000")) {
      await unlink(fsPath(plan.target, change.path)).catch(ignoreCode("ENOENT"));
      await removeEmptyParents(plan.target, change.path);
      written.push(change.path);
    }
    for (const change of changes.filter((c) => c.newMode !== "000000")) {
      const content = blobs.get(change.newBlob);
      if (!content)
        throw new SystemError(
          "blob_missing",
          `The run's version of ${change.path} is missing from its history.`,
        );
      await writeAtomically(plan.target, change, content);
      written.push(change.path);
    }
  } catch (error) {
    throw new SystemError(
      "apply_failed",
      `Applying stopped after writing ${written.length} of ${changes.length} file(s) (${written.join(", ") || "none"}): ` +
        `${errorMessage(error)}. Check those files with \`git status\` in ${plan.target}.`,
      { cause: error },
    );
  }
  return { files: written.sort(), skipped };
}

/** Why `change.path` in `target` no longer matches the baseline, or undefined when it does. */
async function checkBaseline(
  target: string,
  change: RawChange,
  deleted: Set<string>,
): Promise<string | undefined> {
  const parts = change.path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    const info = await lstatOrUndefined(fsPath(target, parent));
    if (!info) break;
    if (info.isDirectory()) continue;
    if (deleted.has(parent)) break; // a file or link the change replaces by a directory
    return `${parent} is now ${describe(info)}, not a directory`;
  }

  const file = fsPath(target, change.path);
  const info = await lstatOrUndefined(file);
  if (change.oldMode === "000000") {
    if (!info) return undefined;
    if (info.isDirectory() && (await onlyDeletedBelow(target, change.path, deleted))) return undefined;
    return `the run added it, but it now exists in your checkout (${describe(info)})`;
  }
  if (!info) return "deleted in your checkout since the run started";
  const wantSymlink = change.oldMode === SYMLINK_MODE;
  if (wantSymlink !== info.isSymbolicLink() || (!wantSymlink && !info.isFile())) {
    return `it was ${wantSymlink ? "a symlink" : "a file"} and is now ${describe(info)}`;
  }
  const content = wantSymlink
    ? await readlink(file, { encoding: "buffer" })
    : await readFile(file).catch(() => undefined);
  if (content === undefined) return "cannot be read";
  if (gitBlobId(content) !== change.oldBlob) return "its content changed";
  if (!wantSymlink && (change.oldMode === EXECUTABLE_MODE) !== ((info.mode & 0o100) !== 0)) {
    return "its executable bit changed";
  }
  return undefined;
}

/** A directory where the run added a file is fine only if everything in it is being deleted anyway. */
async function onlyDeletedBelow(target: string, rel: string, deleted: Set<string>): Promise<boolean> {
  const entries = await readdir(fsPath(target, rel), { recursive: true, withFileTypes: true });
  return entries.every((entry) => {
    if (entry.isDirectory()) return true;
    const entryRel = path.relative(target, path.join(entry.parentPath, entry.name)).split(path.sep).join("/");
    return deleted.has(entryRel);
  });
}

async function writeAtomically(target: string, change: RawChange, content: Buffer): Promise<void> {
  // Built from the workspace-relative path, so a name that is not UTF-8 keeps its bytes (path-bytes.ts).
  const file = fsPath(target, change.path);
  const relDir = path.posix.dirname(change.path);
  await mkdir(fsPath(target, relDir), { recursive: true });
  const previous = await lstatOrUndefined(file);
  const tempName = `.${path.posix.basename(change.path)}.entourage-${randomBytes(4).toString("hex")}.tmp`;
  const temp = fsPath(target, relDir === "." ? tempName : `${relDir}/${tempName}`);
  try {
    if (change.newMode === SYMLINK_MODE) {
      await symlink(content, temp);
    } else {
      const executable = change.newMode === EXECUTABLE_MODE;
      const handle = await open(temp, "wx", executable ? 0o777 : 0o666); // the umask applies
      try {
        await handle.writeFile(content);
        if (previous?.isFile()) await handle.chmod(withExecutableBit(previous.mode & 0o7777, executable));
      } finally {
        await handle.close();
      }
    }
    if (previous?.isDirectory()) await rmdir(file); // emptied by the deletions above
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
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

async function lstatOrUndefined(file: string | Buffer): Promise<Stats | undefined> {
  return lstat(file).catch(ignoreCode("ENOENT", "ENOTDIR"));
}

function ignoreCode(...codes: string[]) {
  return (error: NodeJS.ErrnoException): undefined => {
    if (codes.includes(error.code ?? "")) return undefined;
    throw error;
  };
}

function describe(info: Stats): string {
  if (info.isSymbolicLink()) return "a symlink";
  if (info.isDirectory()) return "a directory";
  if (info.isFile()) return "a file";
  return "a special file";
}
