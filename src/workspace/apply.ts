import type { Stats } from "node:fs";
import { readdir, readFile, readlink, realpath, unlink } from "node:fs/promises";
import path from "node:path";
import { errorMessage, SystemError, UserError } from "../core/index.ts";
import {
  ABSENT_MODE,
  type ApplyJournal,
  ApplySlot,
  ignore,
  lstatOrUndefined,
  tempPathOf,
} from "./apply-journal.ts";
import { holding, holdsNew, type Progress, rollBack, rollForward } from "./apply-steps.ts";
import { gitBlobId, type RawChange } from "./changes.ts";
import { isWithin } from "./confine.ts";
import type { SkippedPath } from "./copy-repo.ts";
import { fsPath } from "./path-bytes.ts";

export { withExecutableBit } from "./apply-steps.ts";

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
  /** Set when this call finished an apply of the same run that had been interrupted. */
  resumed?: { startedAt: string };
}

export interface ApplyOptions {
  /** Where the journals of applies live (ENTOURAGE_HOME/applies): one slot per checkout. */
  journals: string;
  /** The run whose change this is: an interrupted apply is finished or undone only by the same run. */
  runId: string;
  /** The snapshot applied. */
  headRef: string;
  /**
   * Called once the checkout is known to match the baseline, before anything is written; throw to stop
   * (nothing is written). Not called when finishing an interrupted apply: that one was accepted already.
   */
  beforeWrite?: (changes: RawChange[], readBlobs: ApplyPlan["readBlobs"]) => Promise<void>;
  onProgress?: Progress;
}

interface Conflict {
  path: string;
  reason: string;
}

/**
 * Writes a run's change into the user's checkout. First checks every changed path still holds its
 * baseline content (same bytes, same kind, same executable bit; absent for added files); if anything
 * differs, refuses with `checkout_changed` (or `already_applied` when every path holds the run's version)
 * and writes nothing. Then journals the prior state of every path (apply-journal.ts), deletes, and writes
 * each file atomically (temporary file in the same directory + rename). Never touches `.git`. An apply
 * of the same run that was interrupted is finished instead; one of another run blocks with
 * `apply_interrupted` until it is finished or undone.
 */
export async function applyPlan(plan: ApplyPlan, options: ApplyOptions): Promise<ApplyOutcome> {
  const { changes, skipped } = applicable(plan.changes);
  const slot = await ApplySlot.acquire(options.journals, plan.target);
  try {
    const pending = await slot.pending();
    if (pending) {
      if (pending.runId !== options.runId) throw interruptedByOther(pending, options.runId, "apply");
      await recover(slot, pending, "forward", plan.readBlobs, options.onProgress);
      return { files: filesOf(pending), skipped, resumed: { startedAt: pending.startedAt } };
    }
    await slot.clearStale();
    await checkCheckout(plan.target, changes);
    await options.beforeWrite?.(changes, plan.readBlobs);
    const ordered = [
      ...changes.filter((c) => c.newMode === ABSENT_MODE),
      ...changes.filter((c) => c.newMode !== ABSENT_MODE),
    ];
    const blobs = await plan.readBlobs(
      ordered.filter((c) => c.newMode !== ABSENT_MODE).map((c) => c.newBlob),
    );
    const journal = await slot.begin(
      { runId: options.runId, target: plan.target, headRef: options.headRef },
      ordered,
    );
    try {
      await rollForward(journal, blobs, { onProgress: options.onProgress });
    } catch (error) {
      throw new SystemError(
        "apply_failed",
        `Applying stopped part-way into ${plan.target}: ${errorMessage(error)}. Nothing is lost: the prior state ` +
          `of every file is journaled. Once the cause is fixed, finish it with \`entourage apply ${options.runId}\`, ` +
          `or put the checkout back exactly as it was with \`entourage apply --abort ${options.runId}\`.`,
        { cause: error },
      );
    }
    await slot.finish(journal);
    return { files: filesOf(journal), skipped };
  } finally {
    await slot.release();
  }
}

/**
 * Undoes an interrupted apply of `runId` into `target`: every path it journaled goes back to its exact
 * prior state (bytes, mode, symlink target, or absent; directories it created or removed too), and its
 * temporary files are removed. Refused when no apply of this run is pending there.
 */
export async function abortApply(
  target: string,
  options: Pick<ApplyOptions, "journals" | "runId">,
): Promise<{ files: string[]; startedAt: string }> {
  const slot = await ApplySlot.acquire(options.journals, target);
  try {
    const pending = await slot.pending();
    if (!pending)
      throw new UserError(
        "nothing_to_abort",
        `No interrupted apply into ${target} is pending; nothing was changed. ` +
          "(A finished apply is undone like any change of yours, with git: `git diff`, `git restore`.)",
      );
    if (pending.runId !== options.runId) throw interruptedByOther(pending, options.runId, "abort");
    await recover(slot, pending, "back");
    return { files: filesOf(pending), startedAt: pending.startedAt };
  } finally {
    await slot.release();
  }
}

/** Finishes (`forward`) or undoes (`back`) a journaled apply, refusing if a path holds a third version. */
async function recover(
  slot: ApplySlot,
  journal: ApplyJournal,
  direction: "forward" | "back",
  readBlobs?: ApplyPlan["readBlobs"],
  onProgress?: Progress,
): Promise<void> {
  const foreign: string[] = [];
  for (const entry of journal.entries)
    if ((await holding(journal.target, entry)) === "neither") foreign.push(entry.path);
  if (foreign.length > 0) {
    throw new UserError(
      "apply_interrupted_changed",
      `An interrupted apply of run ${journal.runId} into ${journal.target} (started ${journal.startedAt}) cannot be ` +
        `${direction === "forward" ? "finished" : "undone"}: ${foreign.length} file(s) were changed since, and hold neither ` +
        `your version nor the run's:\n${foreign.map((f) => `  ${f}`).join("\n")}\n` +
        "Move those edits aside and put the files back (your version or the run's), then try again. " +
        `The journal and the backups of your files are kept in ${slot.dir}.`,
    );
  }
  if (direction === "back") {
    await rollBack(journal, slot.backupDir(journal));
  } else {
    const ids = journal.entries.filter((e) => e.change.newMode !== ABSENT_MODE).map((e) => e.change.newBlob);
    const blobs = await readBlobs!(ids);
    for (const entry of journal.entries)
      await unlink(tempPathOf(journal.target, journal, entry.path)).catch(ignore("ENOENT", "ENOTDIR"));
    await rollForward(journal, blobs, { resume: true, onProgress });
  }
  await slot.finish(journal);
}

function interruptedByOther(pending: ApplyJournal, runId: string, what: "apply" | "abort"): UserError {
  return new UserError(
    "apply_interrupted",
    `An apply of another run, ${pending.runId}, into ${pending.target} was interrupted (started ${pending.startedAt}); ` +
      `nothing was ${what === "apply" ? "written" : "undone"} for ${runId}. First finish it with \`entourage apply ${pending.runId}\` ` +
      `or undo it with \`entourage apply --abort ${pending.runId}\`.`,
  );
}

function filesOf(journal: ApplyJournal): string[] {
  return journal.entries.map((e) => e.path).sort();
}

/** Paths an apply never writes: inside `.git`, odd segments, submodules. */
function applicable(all: RawChange[]): { changes: RawChange[]; skipped: SkippedPath[] } {
  const skipped: SkippedPath[] = [];
  const changes: RawChange[] = [];
  for (const change of all) {
    if (change.path.split("/").some((p) => p.toLowerCase() === ".git" || p === ".." || p === "")) {
      skipped.push({ path: change.path, reason: "inside .git (never written)" });
    } else if (change.oldMode === GITLINK_MODE || change.newMode === GITLINK_MODE) {
      skipped.push({ path: change.path, reason: "nested git repository or submodule (not applied)" });
    } else {
      changes.push(change);
    }
  }
  return { changes, skipped };
}

/**
 * Throws unless every changed path holds its baseline: `already_applied` when instead every one holds the
 * run's version (the change is in the checkout), else `checkout_changed` listing the paths.
 */
async function checkCheckout(target: string, changes: RawChange[]): Promise<void> {
  const deleted = new Set(changes.filter((c) => c.newMode === ABSENT_MODE).map((c) => c.path));
  const conflicts: Conflict[] = [];
  for (const change of changes) {
    const reason = await checkBaseline(target, change, deleted);
    if (reason) conflicts.push({ path: change.path, reason });
  }
  if (conflicts.length === 0) return;
  let holdingRun = 0;
  for (const change of changes) {
    const file = fsPath(target, change.path);
    if (await holdsNew(file, await lstatOrUndefined(file), change)) holdingRun++;
  }
  if (holdingRun === changes.length) {
    const shown = changes.slice(0, 10).map((c) => c.path);
    const more = changes.length > shown.length ? `, and ${changes.length - shown.length} more` : "";
    throw new UserError(
      "already_applied",
      `The change is already in ${target}: every file it changes holds the run's version (${shown.join(", ")}${more}); ` +
        "nothing was written. Review it there with `git diff`.",
    );
  }
  const list = conflicts.map((c) => `  ${c.path}: ${c.reason}`).join("\n");
  const part =
    holdingRun > 0
      ? `(${holdingRun} of the ${changes.length} file(s) the run changes already hold its version, the others do not: the change is not in your checkout, only part of it.)\n`
      : "";
  throw new UserError(
    "checkout_changed",
    `Nothing was applied: ${conflicts.length} file(s) in ${target} changed since the run copied them:\n${list}\n${part}` +
      "Stash or commit-and-revert your edits to these files (e.g. `git stash`), then apply again; " +
      "or save the run's diff and merge it by hand (`git apply --3way`).",
  );
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

function describe(info: Stats): string {
  if (info.isSymbolicLink()) return "a symlink";
  if (info.isDirectory()) return "a directory";
  if (info.isFile()) return "a file";
  return "a special file";
}

/** The real path of the checkout to apply to; a clear error when it is missing or is the workspace `dir`. */
export async function applyTargetOf(target: string, dir: string): Promise<string> {
  const real = await realpath(target).catch(() => {
    throw new UserError("apply_target_missing", `${target} does not exist; pass the path of your checkout.`);
  });
  if (isWithin(dir, real) || isWithin(real, dir)) {
    throw new UserError(
      "apply_target_invalid",
      `${target} is the run's own workspace; pass the path of your checkout.`,
    );
  }
  return real;
}
