import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseRawNumstat, type RawChange } from "./changes.ts";
import { isBinary } from "./files.ts";
import { fetchFromShadowArgs, type GitResult, splitNul } from "./git.ts";

/** A path both sides changed in ways that cannot be combined; this workspace keeps its own version. */
export interface MergeConflict {
  path: string;
  /** This workspace's version as text; null when absent (deleted or never added); a note for binaries. */
  ours: string | null;
  /** The other workspace's version, same conventions. */
  theirs: string | null;
  /** The common base's version, same conventions. */
  base: string | null;
  /** Why it could not be merged, e.g. "both sides changed the same lines". */
  reason: string;
}

/** One entry to write into the merged tree; mode "0" removes the path. */
export interface MergeEntry {
  path: string;
  mode: string;
  blob: string;
}

export interface MergePlan {
  /** Index entries that turn our tree into the merged tree. */
  entries: MergeEntry[];
  /** Paths those entries change, sorted. */
  merged: string[];
  conflicts: MergeConflict[];
}

export type GitRunner = (
  args: string[],
  options?: { input?: string | Buffer; okExitCodes?: number[]; env?: Record<string, string> },
) => Promise<GitResult>;

export interface MergeIntoOptions {
  /** Runs git in the workspace being merged into, with its work tree. */
  git: GitRunner;
  readBlobs(ids: string[]): Promise<Map<string, Buffer>>;
  /** The common ancestor: a commit both shadow gits hold. */
  base: string;
  /** Their side: a commit of the shadow git at `theirGitDir`, fetched from there when missing here. */
  theirs: string;
  theirGitDir: string;
  label: string;
  /** A scratch index file path (removed afterwards). */
  scratchIndex: string;
}

export interface MergeOutcome {
  merged: string[];
  conflicts: MergeConflict[];
  /**
   * The commit recording the merge, or undefined when nothing was taken. `written`: the mode and blob
   * of every path it changed, when known (a batch merge has them from its diff).
   */
  commit?: { ref: string; filesChanged: string[]; written?: readonly RawChange[] };
}

/**
 * Merges `theirs` into the work tree and HEAD the runner works on: the current files (snapshotted or
 * not) are our side. Takes what `planMerge` says, moves index and files from our tree to the merged
 * one with `read-tree -m -u` — which refuses, writing nothing, if that would overwrite a file the
 * snapshots do not hold, such as an ignored one — and commits with both histories as parents.
 */
export async function mergeInto(options: MergeIntoOptions): Promise<MergeOutcome> {
  const { git, base, theirs } = options;
  await git(["add", "-A"]);
  const ours = (await git(["write-tree"])).stdout.toString().trim();
  const treesOf = (okExitCodes: number[]) =>
    git(["rev-parse", "HEAD", "HEAD^{tree}", `${base}^{tree}`, `${theirs}^{tree}`], {
      okExitCodes,
    });
  let trees = await treesOf([0, 128]);
  if (trees.exitCode !== 0) {
    // Their commit is not here yet (a copy with objects of its own): fetch it. Still missing: git's error.
    await git(fetchFromShadowArgs(options.theirGitDir, [theirs]));
    trees = await treesOf([0]);
  }
  const [head = "", headTree, baseTree, theirTree] = trees.stdout.toString().trim().split("\n");

  let merged: string;
  let paths: string[];
  let conflicts: MergeConflict[] = [];
  if (ours === baseTree && theirTree === ours) return { merged: [], conflicts: [] };
  const taken =
    ours === baseTree
      ? parseRawNumstat(
          splitNul((await git(["diff-tree", "-r", "-z", "--raw", "--no-renames", ours, theirTree!])).stdout),
        ).raw
      : undefined;
  if (taken && !taken.some((c) => c.oldMode === GITLINK || c.newMode === GITLINK)) {
    // Nothing changed here since the base (the first copy merged back): their tree is the merge, as
    // planMerge would have built it path by path (only nested repositories need its conflict).
    merged = theirTree as string;
    paths = taken.map((c) => c.path).sort();
  } else {
    const plan = await planMerge({ git, readBlobs: options.readBlobs, base, ours, theirs });
    if (plan.entries.length === 0) return { merged: [], conflicts: plan.conflicts };
    merged = await treeWith(git, options.scratchIndex, ours, plan.entries);
    paths = plan.merged;
    conflicts = plan.conflicts;
  }
  await git(["read-tree", "-m", "-u", ours, merged]);
  const commit = (await git(["commit-tree", merged, "-p", head, "-p", theirs, "-m", options.label])).stdout
    .toString()
    .trim();
  await git(["update-ref", "-m", options.label, "HEAD", commit, head]);
  // Their tree taken onto a clean HEAD (the usual first merge): the commit changes exactly those paths.
  const filesChanged =
    headTree === ours && merged === theirTree
      ? paths
      : splitNul((await git(["diff-tree", "-r", "-z", "--name-only", "--no-renames", head, commit])).stdout);
  return { merged: paths, conflicts, commit: { ref: commit, filesChanged } };
}

/** `tree` with `entries` applied, built in a scratch index so the real one is untouched. */
async function treeWith(git: GitRunner, index: string, tree: string, entries: MergeEntry[]): Promise<string> {
  const env = { GIT_INDEX_FILE: index };
  await rm(index, { force: true });
  try {
    await git(["read-tree", tree], { env });
    const zero = "0".repeat(40);
    const info = entries.map((e) => `${e.mode} ${e.mode === "0" ? zero : e.blob}\t${e.path}\0`).join("");
    await git(["update-index", "-z", "--index-info"], { env, input: info });
    return (await git(["write-tree"], { env })).stdout.toString().trim();
  } finally {
    await rm(index, { force: true });
  }
}

export interface MergeInputs {
  /** Runs git in the workspace being merged into; the other side's objects must already be there. */
  git: GitRunner;
  readBlobs(ids: string[]): Promise<Map<string, Buffer>>;
  /** The common ancestor (a commit both sides have). */
  base: string;
  /** Our side: a tree of the current files. */
  ours: string;
  /** Their side: a commit. */
  theirs: string;
}

const ABSENT = "000000";
const SYMLINK = "120000";
const GITLINK = "160000";
const REGULAR = new Set(["100644", "100755"]);
/** `git merge-file` exits with the number of conflicts, capped at 127; negative (255) is an error. */
const MERGE_FILE_EXIT_CODES = Array.from({ length: 128 }, (_, i) => i);

/**
 * Works out the three-way merge of `theirs` into `ours` from `base`, path by path: a path only they
 * changed is taken as they left it; a path both changed identically is left alone; a text file both
 * changed is merged line-wise with `git merge-file` and taken when that is clean. Everything else — the
 * same lines changed, a change against a deletion, binaries, symlinks, a file where the other side has
 * a directory — is a conflict, reported with all three versions and not written. Writes blobs for
 * merged content into the object store and nothing else.
 */
export async function planMerge(inputs: MergeInputs): Promise<MergePlan> {
  const [oursRaw, theirsRaw] = await Promise.all([
    inputs.git(["diff-tree", "-r", "-z", "--raw", "--no-renames", inputs.base, inputs.ours]),
    inputs.git(["diff-tree", "-r", "-z", "--raw", "--no-renames", inputs.base, inputs.theirs]),
  ]);
  const ourChanges = new Map(parseRawNumstat(splitNul(oursRaw.stdout)).raw.map((c) => [c.path, c]));
  const theirChanges = parseRawNumstat(splitNul(theirsRaw.stdout)).raw;

  const entries: MergeEntry[] = [];
  const pending: { path: string; reason: string; base: Side; ours: Side; theirs: Side }[] = [];
  const bothChangedText: { theirs: RawChange; ours: RawChange }[] = [];
  for (const theirs of theirChanges) {
    const ours = ourChanges.get(theirs.path);
    const conflict = (reason: string) =>
      pending.push({
        path: theirs.path,
        reason,
        base: side(theirs.oldMode, theirs.oldBlob),
        ours: ours ? side(ours.newMode, ours.newBlob) : side(theirs.oldMode, theirs.oldBlob),
        theirs: side(theirs.newMode, theirs.newBlob),
      });
    if (theirs.oldMode === GITLINK || theirs.newMode === GITLINK) {
      conflict("nested git repository (not merged)");
    } else if (!ours) {
      entries.push(entryFor(theirs));
    } else if (ours.newMode === theirs.newMode && ours.newBlob === theirs.newBlob) {
      // Both made the same change.
    } else if (ours.newMode === ABSENT) {
      conflict("deleted here, changed there");
    } else if (theirs.newMode === ABSENT) {
      conflict("changed here, deleted there");
    } else if (
      REGULAR.has(ours.newMode) &&
      REGULAR.has(theirs.newMode) &&
      (theirs.oldMode === ABSENT || REGULAR.has(theirs.oldMode))
    ) {
      bothChangedText.push({ theirs, ours });
    } else {
      conflict("both sides changed a symlink or replaced a file by a symlink");
    }
  }

  const blobs = await inputs.readBlobs(
    bothChangedText.flatMap(({ ours, theirs }) => [ours.newBlob, theirs.newBlob, theirs.oldBlob]),
  );
  const contentOf = (blob: string) => blobs.get(blob) ?? Buffer.alloc(0);

  if (bothChangedText.length > 0) {
    const scratch = await mkdtemp(path.join(tmpdir(), "entourage-merge-"));
    try {
      for (const { ours, theirs } of bothChangedText) {
        const base = theirs.oldMode === ABSENT ? Buffer.alloc(0) : contentOf(theirs.oldBlob);
        const conflict = (reason: string) =>
          pending.push({
            path: theirs.path,
            reason,
            base: side(theirs.oldMode, theirs.oldBlob),
            ours: side(ours.newMode, ours.newBlob),
            theirs: side(theirs.newMode, theirs.newBlob),
          });
        const mode = mergeMode(theirs.oldMode, ours.newMode, theirs.newMode);
        if ([base, contentOf(ours.newBlob), contentOf(theirs.newBlob)].some(isBinary)) {
          conflict("binary file changed on both sides");
          continue;
        }
        const merged = await mergeText(
          inputs,
          scratch,
          base,
          contentOf(ours.newBlob),
          contentOf(theirs.newBlob),
        );
        if (merged === undefined) conflict("both sides changed the same lines");
        else if (mode === undefined) conflict("added on both sides with different executable bits");
        else {
          const blob = (
            await inputs.git(["hash-object", "-w", "--no-filters", "--stdin"], { input: merged })
          ).stdout
            .toString()
            .trim();
          if (blob !== ours.newBlob || mode !== ours.newMode) entries.push({ path: theirs.path, mode, blob });
        }
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  const placed = await withoutDirectoryClashes(inputs, entries);
  for (const clash of placed.clashes) {
    const ours = ourChanges.get(clash.path);
    const theirs = theirChanges.find((c) => c.path === clash.path)!;
    pending.push({
      path: clash.path,
      reason: "a file on one side is a directory on the other",
      base: side(theirs.oldMode, theirs.oldBlob),
      ours: ours ? side(ours.newMode, ours.newBlob) : side(theirs.oldMode, theirs.oldBlob),
      theirs: side(theirs.newMode, theirs.newBlob),
    });
  }
  const shown = await inputs.readBlobs(
    pending.flatMap((c) => [c.base, c.ours, c.theirs].filter((x) => x.mode !== ABSENT).map((x) => x.blob)),
  );
  const describe = (s: Side) => describeSide(s, shown.get(s.blob));

  return {
    entries: placed.entries,
    merged: placed.entries.map((e) => e.path).sort(),
    conflicts: pending
      .map((c) => ({
        path: c.path,
        ours: describe(c.ours),
        theirs: describe(c.theirs),
        base: describe(c.base),
        reason: c.reason,
      }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}

interface Side {
  mode: string;
  blob: string;
}

function side(mode: string, blob: string): Side {
  return { mode, blob };
}

function entryFor(change: RawChange): MergeEntry {
  return change.newMode === ABSENT
    ? { path: change.path, mode: "0", blob: change.newBlob }
    : { path: change.path, mode: change.newMode, blob: change.newBlob };
}

/** The executable bit as a three-way merge: whoever changed it wins; undefined when both changed it differently. */
export function mergeMode(base: string, ours: string, theirs: string): string | undefined {
  if (ours === theirs) return ours;
  if (base === ours) return theirs;
  if (base === theirs) return ours;
  return undefined;
}

/** Line-wise merge with `git merge-file`; undefined when it leaves conflicts. */
async function mergeText(
  inputs: MergeInputs,
  scratch: string,
  base: Buffer,
  ours: Buffer,
  theirs: Buffer,
): Promise<Buffer | undefined> {
  const files = ["ours", "base", "theirs"].map((name) => path.join(scratch, name));
  await Promise.all([ours, base, theirs].map((content, i) => writeFile(files[i]!, content)));
  const result = await inputs.git(
    ["merge-file", "-p", "-L", "ours", "-L", "base", "-L", "theirs", "--", ...files],
    { okExitCodes: MERGE_FILE_EXIT_CODES },
  );
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** A side of a conflict as text for people and agents. */
function describeSide(s: Side, content: Buffer | undefined): string | null {
  if (s.mode === ABSENT) return null;
  if (s.mode === GITLINK) return `[nested git repository at commit ${s.blob}]`;
  const bytes = content ?? Buffer.alloc(0);
  if (s.mode === SYMLINK) return `[symlink to ${bytes.toString("utf8")}]`;
  if (isBinary(bytes)) return `[binary file, ${bytes.length} bytes, blob ${s.blob}]`;
  return bytes.toString("utf8");
}

/**
 * Drops entries that would put a file where the merged tree has a directory or the reverse (they added
 * `a/b` where we now have a file `a`), which git's index cannot hold.
 */
async function withoutDirectoryClashes(
  inputs: MergeInputs,
  entries: MergeEntry[],
): Promise<{ entries: MergeEntry[]; clashes: MergeEntry[] }> {
  const additions = entries.filter((e) => e.mode !== "0");
  if (additions.length === 0) return { entries, clashes: [] };
  const files = new Set(
    splitNul((await inputs.git(["ls-tree", "-r", "-z", "--name-only", inputs.ours])).stdout),
  );
  for (const e of entries) {
    if (e.mode === "0") files.delete(e.path);
    else files.add(e.path);
  }
  const dirs = new Set<string>();
  for (const file of files) {
    for (let d = path.posix.dirname(file); d !== "."; d = path.posix.dirname(d)) dirs.add(d);
  }
  const clashes = additions.filter((e) => {
    if (dirs.has(e.path)) return true;
    for (let d = path.posix.dirname(e.path); d !== "."; d = path.posix.dirname(d))
      if (files.has(d)) return true;
    return false;
  });
  const dropped = new Set(clashes);
  return { entries: entries.filter((e) => !dropped.has(e)), clashes };
}
