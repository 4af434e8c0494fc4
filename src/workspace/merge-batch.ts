import path from "node:path";
import { quotePath } from "./baseline.ts";
import { parseRawNumstat, type RawChange } from "./changes.ts";
import { runGitScript, SHADOW_IDENTITY, splitNul } from "./git.ts";
import type { GitRunner, MergeOutcome } from "./merge.ts";
import { encodePath } from "./path-bytes.ts";

/** One workspace copy to take in: its latest commit (its objects already here) and the merge's label. */
export interface BatchSide {
  theirs: string;
  label: string;
}

export interface MergeBatchOptions {
  /** Runs git in the workspace being merged into, with its work tree. */
  git: GitRunner;
  /** The same git's environment and work tree, for a script of several git calls (`runGitScript`). */
  shell: { env: Record<string, string>; cwd: string };
  /** The common ancestor of every side: the commit they were all cloned at. */
  base: string;
  sides: readonly BatchSide[];
  /**
   * The work tree is known to hold exactly HEAD's files (the tree index saw nothing change since the
   * last snapshot): our side is HEAD's tree and `add -A` + `write-tree` are skipped.
   */
  clean: boolean;
  /** HEAD's commit when known without git: with `clean` and equal to `base`, our side is the base. */
  head?: string;
  /** Unix ms: the merge commits' date. */
  time: number;
}

const GITLINK = "160000";
const SCRATCH_REF = "refs/entourage/merging";

/**
 * Merges several copies cloned at `base` into the work tree and HEAD in one go, as `mergeInto` one
 * after another would — one merge commit per side with both histories as parents, chained — when
 * that is plain: our files are still the base's, and no two sides touched the same path or a path
 * inside another's (no nested repositories either). Then no side can conflict with another and their
 * changes are simply put together: one `diff-tree --stdin` for all sides, one `fast-import` that
 * writes every merged tree and commit, one `read-tree -m -u` that moves index and files to the last
 * (refusing, writing nothing, to overwrite a file the snapshots do not hold) and one `update-ref`:
 * a handful of git processes for the whole batch instead of a dozen per side. Returns undefined,
 * having changed nothing but the object store, when the batch is not plain: then merge one by one.
 */
export async function mergeBatch(options: MergeBatchOptions): Promise<MergeOutcome[] | undefined> {
  const { git, base, sides } = options;
  // Our files are HEAD's and HEAD is the base (no snapshot since the copies were made): git need not say.
  let head = options.clean && options.head === base ? base : "";
  let ours = head;
  if (!head) {
    if (!options.clean) {
      await git(["add", "-A"]);
      ours = (await git(["write-tree"])).stdout.toString().trim();
    }
    const trees = await git(["rev-parse", "HEAD", "HEAD^{tree}", `${base}^{tree}`], {
      okExitCodes: [0, 128],
    });
    if (trees.exitCode !== 0) return undefined;
    const [headCommit = "", headTree = "", baseTree = ""] = trees.stdout.toString().trim().split("\n");
    head = headCommit;
    ours ||= headTree;
    if (ours !== baseTree) return undefined;
  }

  // "<theirs> <base>": a commit and the parent to diff it against; --always prints each one's header.
  // A side whose commit is not here prints nothing: the layout check fails and mergeInto fetches it.
  const diffs = await git(["diff-tree", "--stdin", "--always", "-r", "-z", "--raw", "--no-renames"], {
    input: sides.map((s) => `${s.theirs} ${base}\n`).join(""),
    okExitCodes: [0, 128],
  });
  const changes =
    diffs.exitCode === 0
      ? splitStdinDiff(
          diffs.stdout,
          sides.map((s) => `${s.theirs}\0`),
        )
      : undefined;
  if (!changes || !disjoint(changes)) return undefined;

  const outcomes: MergeOutcome[] = sides.map(() => ({ merged: [], conflicts: [] }));
  const taking = sides.map((_, i) => i).filter((i) => changes[i]!.length > 0);
  if (taking.length === 0) return outcomes;

  const date = `${Math.floor(options.time / 1000)} +0000`;
  let stream = "";
  for (const [k, i] of taking.entries()) {
    const message = encodePath(`${sides[i]!.label}\n`).length;
    stream += `commit ${SCRATCH_REF}\nmark :${k + 1}\n`;
    stream += `committer ${SHADOW_IDENTITY.name} <${SHADOW_IDENTITY.email}> ${date}\n`;
    stream += `data ${message}\n${sides[i]!.label}\n`;
    stream += `from ${k === 0 ? head : `:${k}`}\nmerge ${sides[i]!.theirs}\n`;
    for (const c of changes[i]!) {
      stream +=
        c.newMode === "000000"
          ? `D ${quotePath(c.path)}\n`
          : `M ${c.newMode} ${c.newBlob} ${quotePath(c.path)}\n`;
    }
    stream += "\n";
  }
  stream += `${taking.map((_, k) => `get-mark :${k + 1}\n`).join("")}done\n`;
  // runGit writes the stream as bytes with encodePath: paths that are not UTF-8 go back as their bytes.
  // --force: a scratch ref left by a crash is simply replaced.
  // unpackLimit=0: the few new trees and commits stay one pack (no `unpack-objects` process started).
  const imported = await git(
    ["-c", "fastimport.unpackLimit=0", "fast-import", "--quiet", "--done", "--force"],
    { input: stream },
  );
  const commits = imported.stdout.toString().trim().split("\n");
  const last = commits.at(-1)!;
  // Files and index, then HEAD, as one process (see runGitScript); the scratch ref goes either way.
  await runGitScript(
    `git read-tree -m -u ${ours} ${last} + update-ref HEAD`,
    `git read-tree -m -u "$1" "$2" && git update-ref -m merge --stdin && exit 0
s=$?; git update-ref -d ${SCRATCH_REF}; exit $s`,
    [ours, last],
    { ...options.shell, input: `update HEAD ${last} ${head}\ndelete ${SCRATCH_REF}\n` },
  );
  for (const [k, i] of taking.entries()) {
    const paths = changes[i]!.map((c) => c.path).sort();
    const written = changes[i]!;
    outcomes[i] = {
      merged: paths,
      conflicts: [],
      commit: { ref: commits[k]!, filesChanged: paths, written },
    };
  }
  return outcomes;
}

/**
 * The output of `diff-tree --stdin --always -r -z --raw` for the given lines: each one's header (printed
 * even when nothing differs), then its records, `:<modes> <ids> <status>\0<path>\0`. Undefined
 * when the output is not laid out so.
 */
function splitStdinDiff(out: Buffer, headers: readonly string[]): RawChange[][] | undefined {
  const groups: RawChange[][] = [];
  let at = 0;
  for (const header of headers) {
    const expected = Buffer.from(header);
    if (!out.subarray(at, at + expected.length).equals(expected)) return undefined;
    at += expected.length;
    const start = at;
    while (at < out.length && out[at] === 0x3a) {
      const metaEnd = out.indexOf(0, at);
      const pathEnd = metaEnd < 0 ? -1 : out.indexOf(0, metaEnd + 1);
      if (pathEnd < 0) return undefined;
      at = pathEnd + 1;
    }
    groups.push(parseRawNumstat(splitNul(out.subarray(start, at))).raw);
  }
  return at === out.length ? groups : undefined;
}

/** No path (nor a directory above it) changed by two sides, and no nested repository. */
function disjoint(changes: readonly RawChange[][]): boolean {
  const owner = new Map<string, number>();
  for (const [i, side] of changes.entries()) {
    for (const c of side) {
      if (c.oldMode === GITLINK || c.newMode === GITLINK || owner.has(c.path)) return false;
      owner.set(c.path, i);
    }
  }
  for (const [i, side] of changes.entries()) {
    for (const c of side) {
      for (let d = path.posix.dirname(c.path); d !== "."; d = path.posix.dirname(d)) {
        const other = owner.get(d);
        if (other !== undefined && other !== i) return false;
      }
    }
  }
  return true;
}
