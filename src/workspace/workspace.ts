import { execFile } from "node:child_process";
import { realpath } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { type Clock, systemClock, UserError } from "../core/index.ts";
import { type ApplyOptions, type ApplyPlan, applyPlan, applyTargetOf } from "./apply.ts";
import { commitBaseline } from "./baseline.ts";
import type { ChangeSummary, DiffRange } from "./changes.ts";
import { parseCatFileBatch, parseRawNumstat, summarize } from "./changes.ts";
import { checkCreateLayout, makeClone } from "./clone.ts";
import { type ConfinedPath, confine, isWithin } from "./confine.ts";
import { copyProject, findRepoRoot, type SkippedPath } from "./copy-repo.ts";
import {
  type ReadTextOptions,
  readBytesAt,
  readTextAt,
  statInfo,
  type TextSlice,
  type WorkspaceStat,
  type WriteResult,
  writeTextAt,
} from "./files.ts";
import { type GitResult, initShadowGit, readHeadFile, runGit, shadowGitEnv, splitNul } from "./git.ts";
import { copyMissingObjects, keepPathsPrivate } from "./shared-objects.ts";
import { TreeIndex, WALK_BEATS_GIT_ENTRIES } from "./tree-index.ts";
import {
  addExcludes,
  HOME_DIR,
  inNewWorkspaceDirs,
  keepPrivate,
  metaPathOf,
  readMeta,
  type WorkspaceMeta,
  writeMeta,
} from "./workspace-meta.ts";

export type { DiffRange } from "./changes.ts";
export type { ListOptions } from "./glob.ts";
export type { WorkspaceMeta };

import { type ListOptions, listProjectFiles } from "./glob.ts";
import { type MergeOutcome, mergeInto } from "./merge.ts";
import { mergeBatch } from "./merge-batch.ts";
import { makeSharedClones } from "./shared-clones.ts";
import { commitSnapshot, forgetInIndex } from "./snapshot-commit.ts";
import type {
  CloneOptions,
  MergeOptions,
  MergeResult,
  OpenWorkspaceOptions,
  Snapshot,
} from "./workspace-options.ts";

export interface CreateWorkspaceOptions {
  /** The user's checkout (any directory inside a git work tree; its top level is used). */
  repo: string;
  /** Where the run's copy goes: must not exist yet, or be empty, and must not be inside `repo`. */
  dir: string;
  /** The shadow git directory. Default: `shadow.git` beside `dir`. */
  gitDir?: string;
  /** Author and committer dates of snapshots. */
  clock?: Clock;
}

/** The uid/gid a sandbox runs commands as (`Sandbox.runAs`): files the tools create are given to it. */
type Owner = { uid: number; gid: number };

/** `applyTo`'s options: the snapshot to apply, and the journal slot and hooks of `applyPlan`. */
export type ApplyToOptions = { ref?: string } & Partial<Omit<ApplyOptions, "headRef">>;

const BASELINE_REF = "refs/entourage/baseline";
const REF_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_./~^@{}-]*$/;

/**
 * The run's private copy of the user's project, with a shadow git (separate from the user's `.git`)
 * that snapshots every state — including what shell commands did — so a run can be diffed, rewound
 * and finally applied to the user's checkout only if the user's files did not change underneath.
 * Everything is derivable from disk: `Workspace.open` picks up where another process left off.
 */
const execFileAsync = promisify(execFile);

export class Workspace {
  /** Real path of the copy; every tool path is relative to it. */
  readonly dir: string;
  /** Top level of the user's checkout. */
  readonly repo: string;
  readonly gitDir: string;
  /** The baseline snapshot: the project as copied. Its tree records each file's baseline blob id. */
  readonly baseRef: string;
  /** Paths of the project that were not copied (submodules, nested repositories, special files). */
  readonly skipped: readonly SkippedPath[];
  readonly #clock: Clock;
  #queue: Promise<unknown> = Promise.resolve();
  #owner: Owner | undefined;
  /** Settles once the owner given to `lendTo` is known. */
  #lent: Promise<void> = Promise.resolve();
  /** The files as walked just before the latest snapshot (git's view of them): see `snapshot`. */
  #tree: TreeIndex | undefined;
  /** The snapshot whose files `#tree` walked; undefined when unknown. */
  #treeRef: string | undefined;
  /** Fresh from `create`: nothing but Entourage's own code has touched the copy since (see `lendTo`). */
  #pristine = false;
  /** What git ignores in the work tree, not walked by the tree index; undefined: ask git again. */
  #ignored: string[] | undefined;
  /** Commits this shadow git is known to hold (objects are never pruned: gc is off), resolved without git. */
  readonly #known = new Set<string>();

  private constructor(meta: WorkspaceMeta, clock: Clock) {
    this.dir = meta.dir;
    this.repo = meta.repo;
    this.gitDir = meta.gitDir;
    this.baseRef = meta.baseRef;
    this.skipped = meta.skipped;
    this.#clock = clock;
    this.#known.add(meta.baseRef);
  }

  /** Copies the project at `repo` into `dir` and records the baseline snapshot. Never writes into `repo`. */
  static async create(options: CreateWorkspaceOptions): Promise<Workspace> {
    const clock = options.clock ?? systemClock;
    const repo = await realpath(await findRepoRoot(options.repo));
    return inNewWorkspaceDirs(
      options.dir,
      options.gitDir,
      (dir, gitDir, resolved) => {
        if (!resolved) return checkCreateLayout(repo, dir, gitDir);
        if (isWithin(repo, dir) || isWithin(repo, gitDir)) {
          // Only reachable through a symlink in the run directory's path.
          throw new UserError(
            "workspace_inside_repo",
            `The run directory ${dir} is inside your checkout ${repo}. Choose one outside it.`,
          );
        }
      },
      async (dir, gitDir) => {
        const { copied, skipped } = await copyProject(repo, dir);
        // Nothing writes the copy until we return: walked alongside git, it is what the baseline holds.
        const walking = TreeIndex.build(dir, []).catch(() => undefined);

        const env = await initShadowGit({
          gitDir,
          workTree: dir,
          home: path.join(gitDir, HOME_DIR),
          time: clock(),
        });
        const time = clock();
        await commitBaseline({ dir, paths: copied, env, time, message: "baseline", alsoRef: BASELINE_REF });
        const baseRef =
          (await readHeadFile(gitDir)) ??
          (await runGit(["rev-parse", "HEAD"], { env, cwd: dir })).stdout.toString().trim();

        const meta: WorkspaceMeta = { version: 1, repo, dir, gitDir, baseRef, createdAt: clock(), skipped };
        await writeMeta(meta);
        const workspace = new Workspace(meta, clock);
        const tree = await walking;
        if (tree) {
          workspace.#tree = await tree.settled();
          workspace.#treeRef = baseRef;
          // Every file of the copy is committed: git lists nothing as untracked, hence nothing as ignored.
          workspace.#ignored = [];
          workspace.#pristine = true;
        }
        return workspace;
      },
    );
  }

  /** Re-opens a workspace made by `create`, possibly in another process. */
  static async open(dir: string, options: OpenWorkspaceOptions = {}): Promise<Workspace> {
    const dirGiven = path.resolve(dir);
    const gitDir = path.resolve(options.gitDir ?? path.join(path.dirname(dirGiven), "shadow.git"));
    const meta = await readMeta(gitDir, dirGiven);
    if ((await realpath(dirGiven).catch(() => dirGiven)) !== meta.dir) {
      throw new UserError(
        "workspace_moved",
        `${metaPathOf(gitDir)} belongs to ${meta.dir}, not ${dirGiven}. Open it at ${meta.dir}.`,
      );
    }
    return new Workspace(meta, options.clock ?? systemClock);
  }

  // ── history ──────────────────────────────────────────────────────────────────────────────────────

  /** The latest snapshot (HEAD of the shadow git), read from its files when they suffice. */
  async head(): Promise<string> {
    const head =
      (await readHeadFile(this.gitDir)) ?? (await this.#git(["rev-parse", "HEAD"])).stdout.toString().trim();
    this.#known.add(head);
    return head;
  }

  /**
   * Records the current files as a snapshot: every change since the last one, whoever made it (tools or
   * shell commands), except files the project ignores. Returns null when nothing changed.
   */
  snapshot(label: string): Promise<Snapshot | null> {
    return this.#exclusive(async () => {
      // The stat walk comes before git reads the files: whatever changes after it differs next time.
      const listedNow = this.#ignored === undefined;
      this.#ignored ??= splitNul(
        (await this.#git(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"]))
          .stdout,
      );
      const walked = await TreeIndex.build(this.dir, this.#ignored);
      this.#pristine = false;
      const earlier = this.#tree;
      const headBefore = this.#treeRef;
      // Nothing changed since the last snapshot: no git process at all.
      if (await this.#tree?.matches(walked)) {
        this.#tree = walked; // as trustworthy, and maybe less racy
        return null;
      }
      this.#tree = walked;
      this.#treeRef = undefined;
      if (earlier) await forgetInIndex(earlier.gitBlind(walked), this.#gitOptions());
      const commit = await commitSnapshot(label, this.#gitOptions());
      if (!commit) {
        // The walk saw a difference git does not: maybe new ignored files; list them again next time
        // (unless listed just now, or there was no earlier walk to differ from).
        if (!listedNow && earlier) this.#ignored = undefined;
        this.#treeRef = headBefore;
        return null;
      }
      const { ref, raw } = commit;
      walked.vouch(raw);
      const filesChanged = raw.map((c) => c.path);
      if (filesChanged.some((f) => f === ".gitignore" || f.endsWith("/.gitignore")))
        this.#ignored = undefined;
      this.#treeRef = ref;
      this.#known.add(ref);
      return { ref, label, filesChanged };
    });
  }

  /** Unified diff text; binary files show as "Binary files … differ". */
  diff(range: DiffRange = {}): Promise<string> {
    return this.#compare(range, ["--no-color", "--no-ext-diff", "--no-textconv"], (r) =>
      r.stdout.toString("utf8"),
    );
  }

  /** Which files changed between two points and how many lines, as in the `diff.ready` event. */
  changes(range: DiffRange = {}): Promise<ChangeSummary> {
    return this.#compare(range, ["--raw", "--numstat", "-z"], (r) =>
      summarize(parseRawNumstat(splitNul(r.stdout))),
    );
  }

  /** Resets the files to a snapshot (rewind). Ignored files, which snapshots never hold, are left alone. */
  restore(ref: string): Promise<void> {
    return this.#exclusive(async () => {
      const commit = await this.#resolveRef(ref);
      await this.#git(["reset", "-q", "--hard", commit]);
      await this.#git(["clean", "-q", "-f", "-d"]);
      await this.#afterGitWrote();
    });
  }

  /**
   * Writes the change baseline → `ref` (default: the latest snapshot) into `target` (default: the
   * checkout the workspace was copied from), only if every affected file there still matches the
   * baseline; otherwise throws `checkout_changed` and writes nothing. Returns the paths written or
   * deleted, sorted. Nested repositories the run created (gitlinks) are not applied.
   */
  async applyTo(target: string = this.repo, options: ApplyToOptions = {}): Promise<string[]> {
    const plan = await this.planApply(target, options);
    const journals = options.journals ?? path.join(path.dirname(this.gitDir), "applies");
    return (await applyPlan(plan, { journals, runId: "local", ...options, headRef: plan.headRef })).files;
  }

  /** What `applyTo` writes into `target` (its real path): baseline → `ref`, and where to read the blobs. */
  async planApply(target: string, options: { ref?: string } = {}): Promise<ApplyPlan & { headRef: string }> {
    const headRef = await this.#resolveRef(options.ref ?? "HEAD");
    const targetReal = await applyTargetOf(target, this.dir);
    const raw = await this.#git(["diff-tree", "-r", "-z", "--raw", "--no-renames", this.baseRef, headRef]);
    const { raw: changes } = parseRawNumstat(splitNul(raw.stdout));
    return { target: targetReal, changes, headRef, readBlobs: (ids) => this.#readBlobs(ids) };
  }

  /**
   * Makes an independent workspace in `dir` whose files are the snapshot `ref` (bytes, executable bits,
   * symlinks) and whose shadow git holds the history up to `ref` with the same baseline, so `diff`,
   * `changes` and `applyTo` mean there what they mean here, against the same checkout. For forking a run
   * from a checkpoint and for giving parallel agents a copy each. The clone gets its own copy of the
   * objects it needs (a fetch, not `--shared`), so it outlives this workspace; this one is only read.
   * Ignored files (installed dependencies, build output) are not in snapshots, so not in the clone.
   */
  async cloneAt(ref: string, dir: string, options: CloneOptions = {}): Promise<Workspace> {
    const commit = await this.#exclusive(() => this.#resolveRef(ref));
    const meta = await makeClone({
      source: this,
      commit,
      dir,
      gitDir: options.gitDir,
      baselineRef: BASELINE_REF,
      time: this.#clock(),
      shareObjects: options.shareObjects,
    });
    return this.#cloneOf(meta, commit);
  }

  /** `cloneAt(ref, dir, { shareObjects: true })` for each of `dirs`, checked out by one process (`makeSharedClones`). */
  async cloneEachAt(ref: string, dirs: readonly string[]): Promise<Workspace[]> {
    const commit = await this.#exclusive(() => this.#resolveRef(ref));
    const time = this.#clock();
    const copies = dirs.map((dir) => ({ source: this, commit, dir, baselineRef: BASELINE_REF, time }));
    return (await makeSharedClones(copies)).map((meta) => this.#cloneOf(meta, commit));
  }

  #cloneOf(meta: WorkspaceMeta, commit: string): Workspace {
    const clone = new Workspace(meta, this.#clock);
    clone.#known.add(commit);
    // The same ignore rules (same files at the commit, same info/exclude): what git ignores here.
    clone.#ignored = this.#ignored && [...this.#ignored];
    return clone;
  }

  /**
   * Brings into this workspace what `other` changed since `options.base`, a snapshot both share (the
   * ref `other` was cloned at). A path only they changed is taken; a text file both changed is merged
   * line-wise and taken when that is clean. A conflict is never written with markers: this workspace
   * keeps its version and the result carries all three, for an agent or a person to resolve. The
   * outcome is recorded as a snapshot whose parents are both histories; `other` is only read.
   */
  mergeFrom(other: Workspace, options: MergeOptions): Promise<MergeResult> {
    const { base, theirs, label } = options;
    return this.mergeEach([{ workspace: other, theirs, label }], { base }).then(([result]) => result!);
  }

  /**
   * `mergeFrom` of each of `others` in turn (one snapshot each, in order), all from the same `base` —
   * the copies of one parallel delegation. When our files are still the base's and no two copies
   * touched the same paths, all are taken in one go with a handful of git processes (`mergeBatch`).
   */
  mergeEach(
    others: readonly ({ workspace: Workspace } & Omit<MergeOptions, "base">)[],
    options: { base: string },
  ): Promise<MergeResult[]> {
    if (others.some((o) => o.workspace.gitDir === this.gitDir)) {
      return Promise.reject(
        new UserError("merge_self", `Cannot merge the workspace ${this.dir} into itself.`),
      );
    }
    return this.#exclusive(async () => {
      const base = await this.#resolveRef(options.base);
      const sides = await Promise.all(
        others.map(async ({ workspace: other, theirs: given, label }) => {
          await other.#resolveRef(base).catch((error: unknown) => {
            throw new UserError(
              "merge_base_unknown",
              `The merge base ${options.base} is not a snapshot of ${other.dir}; pass the ref it was cloned at.`,
              { cause: error },
            );
          });
          const theirs = await other.#resolveRef(given ?? "HEAD");
          // Their new objects by file copy (what a copy that borrows ours holds); a fetch gets anything else.
          await copyMissingObjects(other.gitDir, this.gitDir);
          return { other, theirs, label: label ?? `merge from ${other.dir}` };
        }),
      );
      const results: MergeResult[] = [];
      const record = (outcome: MergeOutcome, label: string) => {
        const { merged, conflicts, commit } = outcome;
        const snapshot = commit ? { ref: commit.ref, label, filesChanged: commit.filesChanged } : null;
        results.push({ merged, conflicts, snapshot });
      };
      const tree = sides.length > 1 ? this.#tree : undefined;
      const walked = tree && this.#ignored && (await TreeIndex.build(this.dir, this.#ignored));
      const batch =
        sides.length > 1
          ? await mergeBatch({
              git: (args, opts) => this.#git(args, opts),
              shell: this.#gitOptions(),
              base,
              sides,
              clean: walked ? await tree!.matches(walked) : false,
              head: await readHeadFile(this.gitDir),
              time: this.#clock(),
            })
          : undefined;
      try {
        if (batch) for (const [i, outcome] of batch.entries()) record(outcome, sides[i]!.label);
        for (const { other, theirs, label } of batch ? [] : sides) {
          const outcome = await mergeInto({
            git: (args, opts) => this.#git(args, opts),
            readBlobs: (ids) => this.#readBlobs(ids),
            base,
            theirs,
            theirGitDir: other.gitDir,
            label,
            scratchIndex: path.join(this.gitDir, "entourage", "merge-index"),
          });
          record(outcome, label);
        }
      } finally {
        const written = results.flatMap((r) => r.snapshot?.filesChanged ?? []);
        if (results.some((r) => r.snapshot)) await this.#afterGitWrote([...new Set(written)]);
      }
      // A batch knows what it wrote: walked again and checked against that, the files are known to be
      // the last merge commit's, so the checkpoints and the diff that follow need no `add -A`.
      const last = batch?.findLast((o) => o.commit)?.commit;
      if (last && walked && this.#ignored) {
        const after = await TreeIndex.build(this.dir, this.#ignored);
        const wrote = batch!.flatMap((o) => o.commit?.written ?? []);
        if (await after.holdsWritten(walked, wrote)) {
          this.#tree = after;
          this.#treeRef = last.ref;
          this.#known.add(last.ref);
        }
      }
      return results;
    });
  }

  /**
   * Keeps `paths` (workspace-relative: the dependency folders a sandbox mounts or links there) out of
   * every snapshot, diff and apply, whatever is at them — a mount point, or a symlink that a
   * `node_modules/` pattern would not match. Recorded in the shadow git's `info/exclude` (anchored), so
   * it holds for `Workspace.open` and is copied by `cloneAt`.
   */
  async excludeFromSnapshots(paths: readonly string[]): Promise<void> {
    // Nothing new excluded (no dependency folder mounted): git's view is as it was.
    if (!(await addExcludes(this.gitDir, paths))) return;
    this.#tree = undefined;
    this.#ignored = undefined;
  }

  // ── confined file access (host side, for tools) ─────────────────────────────────────────────────

  /**
   * The absolute path for a workspace-relative one, or a ToolInputError the model can act on: no
   * absolute paths, no `..` escapes, nothing in `.git`, no symlink leading outside. Synchronous.
   */
  resolve(relPath: string): string {
    return confine(this.dir, relPath).real;
  }

  /** Like `resolve`, with what the path is made of (relative form, symlink or not). */
  confine(relPath: string): ConfinedPath {
    return confine(this.dir, relPath);
  }

  async readText(relPath: string, options?: ReadTextOptions): Promise<TextSlice> {
    return readTextAt(confine(this.dir, relPath), options);
  }

  async readBytes(relPath: string): Promise<Buffer> {
    return readBytesAt(confine(this.dir, relPath));
  }

  /**
   * While a sandbox runs commands as another uid (see `Sandbox.runAs`), files the tools create are given
   * to that uid so the agent's commands can modify them. `undefined` stops it (after the sandbox is gone).
   * A copy fresh from `create` is lent before any tool runs: the sandbox's chown stamped every ctime, so
   * it is walked again, and the walk kept if only ctimes differ (then unchanged steps still need no git).
   */
  lendTo(owner: Owner | undefined | Promise<Owner | undefined>): Promise<void> {
    // A promise: the owner is known once the sandbox is made (a run's sandbox is made while the run starts).
    // Files written meanwhile wait for it; git's work queues behind the walk below. A sandbox that was not
    // made lends to no one.
    const known = Promise.resolve(owner).catch(() => undefined);
    this.#lent = known.then((o) => {
      this.#owner = o;
    });
    if (!(owner instanceof Promise) && (!owner || !this.#pristine)) {
      this.#owner = owner;
      return Promise.resolve();
    }
    return this.#exclusive(async () => {
      await this.#lent;
      if (!this.#owner || !this.#pristine) return;
      this.#pristine = false;
      const before = this.#tree;
      if (!before || !this.#ignored || this.#treeRef !== this.baseRef) return;
      const walked = await TreeIndex.build(this.dir, this.#ignored).catch(() => undefined);
      this.#tree = walked && before.sameButCtimes(walked) ? await walked.settled() : undefined;
      // Git's index still holds the owners and ctimes `create` saw: refreshed, or it takes every file for changed.
      await this.#git(["update-index", "-q", "--refresh"], { okExitCodes: [0, 1] });
    });
  }

  async writeText(relPath: string, content: string | Buffer): Promise<WriteResult> {
    await this.#lent;
    return writeTextAt(confine(this.dir, relPath), content, this.#owner);
  }

  /** lstat of the path (a symlink is reported as one), or null when nothing is there. */
  async stat(relPath: string): Promise<WorkspaceStat | null> {
    return statInfo(confine(this.dir, relPath));
  }

  /**
   * The project's files (tracked or new, not ignored by .gitignore), sorted, workspace-relative,
   * optionally below `path` and matching `pattern`.
   */
  async list(options: ListOptions = {}): Promise<string[]> {
    return listProjectFiles(confine(this.dir, options.path ?? ""), options.pattern, (args) =>
      this.#git(args),
    );
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Compares two points; `to` omitted means the files on disk, staged first so new files count. Files
   * walked as the baseline recorded them, and the same now, differ in nothing: known without git.
   */
  #compare<T>(range: DiffRange, flags: string[], parse: (result: GitResult) => T): Promise<T> {
    return this.#exclusive(async () => {
      const from = await this.#resolveRef(range.from ?? this.baseRef);
      const base = ["diff", ...flags, "--no-renames"];
      if (range.to !== undefined)
        return parse(await this.#git([...base, from, await this.#resolveRef(range.to)]));
      // The files are the snapshot the tree index stands for: compared with it, without `add -A`.
      const tree = this.#treeRef ? this.#tree : undefined;
      if (tree && this.#ignored && tree.size <= WALK_BEATS_GIT_ENTRIES) {
        const walked = await TreeIndex.build(this.dir, this.#ignored);
        if (await tree.matches(walked)) {
          if (from === this.#treeRef) return parse({ stdout: Buffer.alloc(0), stderr: "", exitCode: 0 });
          return parse(await this.#git([...base, from, this.#treeRef!]));
        }
        await forgetInIndex(tree.gitBlind(walked), this.#gitOptions());
      }
      await this.#git(["add", "-A"]);
      return parse(await this.#git([...base, "--cached", from]));
    });
  }

  async #resolveRef(ref: string): Promise<string> {
    if (this.#known.has(ref)) return ref;
    // HEAD names a commit: read from the files when they suffice (see readHeadFile).
    const head = ref === "HEAD" ? await readHeadFile(this.gitDir) : undefined;
    if (head) {
      this.#known.add(head);
      return head;
    }
    const result = REF_PATTERN.test(ref)
      ? await this.#git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], {
          okExitCodes: [0, 1, 128],
        })
      : undefined;
    const commit = result?.exitCode === 0 ? result.stdout.toString().trim() : "";
    if (commit === "") {
      throw new UserError(
        "unknown_ref",
        `${JSON.stringify(ref)} is not a snapshot of the workspace ${this.dir}. Use a ref from a checkpoint.created event, or HEAD.`,
      );
    }
    this.#known.add(commit);
    return commit;
  }

  async #readBlobs(ids: string[]): Promise<Map<string, Buffer>> {
    if (ids.length === 0) return new Map();
    const result = await this.#git(["cat-file", "--batch"], { input: `${[...new Set(ids)].join("\n")}\n` });
    return parseCatFileBatch(result.stdout);
  }

  #git(
    args: string[],
    options: { input?: string | Buffer; okExitCodes?: number[]; env?: Record<string, string> } = {},
  ): Promise<GitResult> {
    const base = this.#gitOptions();
    return runGit(args, { ...options, ...base, env: { ...base.env, ...options.env } });
  }

  #gitOptions(): { env: Record<string, string>; cwd: string } {
    const home = path.join(this.gitDir, HOME_DIR);
    const env = shadowGitEnv({ gitDir: this.gitDir, workTree: this.dir, home, time: this.#clock() });
    return { env, cwd: this.dir };
  }

  /**
   * After git wrote files into the work tree (restore, merge): private again — only the `written` paths
   * when known — and handed back to the sandbox's uid when it is lent (never following links).
   */
  async #afterGitWrote(written?: readonly string[]): Promise<void> {
    // Git rewrote files (and chmod stamps ctimes): the next snapshot asks git. What git ignores is
    // unchanged unless a .gitignore was written or a written path is inside what it ignored.
    this.#tree = undefined;
    this.#treeRef = undefined;
    this.#pristine = false;
    const ignored = this.#ignored ?? [];
    const inIgnored = (p: string) => ignored.some((e) => (e.endsWith("/") ? p.startsWith(e) : p === e));
    if (!written || written.some((p) => p === ".gitignore" || p.endsWith("/.gitignore") || inIgnored(p)))
      this.#ignored = undefined;
    if (written) await keepPathsPrivate(this.dir, written);
    else await keepPrivate(this.dir);
    if (this.#owner)
      await execFileAsync("chown", ["-R", "-P", `${this.#owner.uid}:${this.#owner.gid}`, "--", this.dir]);
  }

  /** Git operations that touch the index or HEAD run one at a time (git would fail on index.lock). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}
