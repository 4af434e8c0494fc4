import { chmod, copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../core/index.ts";
import { isWithin } from "./confine.ts";
import { fetchFromShadowArgs, initShadowGit, runGit, type ShadowGitEnvOptions, shadowGitEnv } from "./git.ts";
import {
  HOME_DIR,
  inNewWorkspaceDirs,
  keepPrivate,
  type WorkspaceMeta,
  writeMeta,
} from "./workspace-meta.ts";

/** The workspace a clone is made from: what `makeClone` reads of it. */
export interface CloneSource {
  repo: string;
  dir: string;
  gitDir: string;
  baseRef: string;
  skipped: readonly WorkspaceMeta["skipped"][number][];
}

export interface MakeCloneOptions {
  source: CloneSource;
  /** The snapshot (a commit of the source) the clone starts at. */
  commit: string;
  dir: string;
  /** Default: `shadow.git` beside `dir`. */
  gitDir?: string;
  baselineRef: string;
  time: number;
  shareObjects?: boolean;
  /** With `shareObjects`: checks the files out (`reset --hard` under umask 077) instead of a git of its own. */
  checkout?: (shadow: ShadowGitEnvOptions) => Promise<void>;
}

/**
 * Makes the clone's directories (new, or empty), checks they stay apart from the source and the
 * user's checkout (again once symlinks are resolved), fills them with `cloneShadow`, keeps the files
 * private and writes the meta last; on failure removes what it made. Returns the clone's meta.
 */
export async function makeClone(options: MakeCloneOptions): Promise<WorkspaceMeta> {
  const { source, commit } = options;
  return inNewWorkspaceDirs(
    options.dir,
    options.gitDir,
    // checked as given and again with symlinks in the paths resolved
    (dir, gitDir) => checkCloneLayout(source, dir, gitDir),
    async (dir, gitDir) => {
      const shadow = {
        fromGitDir: source.gitDir,
        commit,
        baseRef: source.baseRef,
        baselineRef: options.baselineRef,
        gitDir,
        workTree: dir,
        home: path.join(gitDir, HOME_DIR),
        time: options.time,
      };
      if (options.shareObjects) await cloneSharing(shadow, options.checkout);
      else {
        await cloneShadow(shadow);
        await keepPrivate(dir);
        const exclude = await readFile(path.join(source.gitDir, "info", "exclude")).catch(() => undefined);
        if (exclude) await writeFile(path.join(gitDir, "info", "exclude"), exclude, { mode: 0o600 });
      }
      const meta: WorkspaceMeta = {
        version: 1,
        repo: source.repo,
        dir,
        gitDir,
        baseRef: source.baseRef,
        createdAt: options.time,
        skipped: [...source.skipped],
        clonedFrom: { dir: source.dir, ref: commit },
      };
      await writeMeta(meta);
      return meta;
    },
  );
}

/** The source's shadow-git files a clone takes as they are: its pinned settings and exclusions. */
const SHARED_FILES = ["config", "info/attributes", "info/exclude"];

/**
 * A clone borrowing the source's objects, made with one git process: the shadow git is laid out by
 * hand — what `git init` and `initShadowGit` make, with the source's own config, attributes and
 * exclusions (a shadow git made the same way), the alternates file and the two refs as loose files —
 * and `reset --hard` writes the files under umask 077, so they are private without a `chmod -R`.
 */
async function cloneSharing(
  options: Omit<CloneShadowOptions, "shareObjects">,
  checkout = (shadow: ShadowGitEnvOptions) =>
    runGit(["reset", "-q", "--hard", "HEAD"], {
      env: shadowGitEnv(shadow),
      cwd: shadow.workTree,
      umask: 0o077,
    }).then(() => {}),
): Promise<void> {
  const { gitDir, fromGitDir } = options;
  const dirs = [
    "objects/info",
    "objects/pack",
    "refs/heads",
    "refs/tags",
    path.dirname(options.baselineRef),
    HOME_DIR,
  ];
  await Promise.all(dirs.map((dir) => mkdir(path.join(gitDir, dir), { recursive: true, mode: 0o700 })));
  await Promise.all([
    ...SHARED_FILES.map(async (file) => {
      await copyFile(path.join(fromGitDir, file), path.join(gitDir, file)).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT" || file === "config") throw error;
        },
      );
      await chmod(path.join(gitDir, file), 0o600).catch(() => {});
    }),
    writeFile(path.join(gitDir, "HEAD"), "ref: refs/heads/main\n", { mode: 0o600 }),
    writeFile(path.join(gitDir, "COMMIT_EDITMSG"), "", { mode: 0o600 }),
    writeFile(path.join(gitDir, "refs", "heads", "main"), `${options.commit}\n`, { mode: 0o600 }),
    writeFile(path.join(gitDir, options.baselineRef), `${options.baseRef}\n`, { mode: 0o600 }),
    writeFile(path.join(gitDir, "objects", "info", "alternates"), `${path.join(fromGitDir, "objects")}\n`, {
      mode: 0o600,
    }),
  ]);
  await checkout(options);
  const dir = await stat(options.workTree);
  if ((dir.mode & 0o077) !== 0) await chmod(options.workTree, dir.mode & 0o7700);
}

export interface CloneShadowOptions extends ShadowGitEnvOptions {
  /** The shadow git to copy from; only read. */
  fromGitDir: string;
  /** The snapshot the clone starts at. */
  commit: string;
  /** The baseline commit and the ref that names it. */
  baseRef: string;
  baselineRef: string;
  /**
   * Borrow the source's objects (git alternates) instead of fetching a copy: no pack is made, so the
   * clone is ready in a few milliseconds, but it needs the source's shadow git to stay where it is.
   * For the short-lived copies of parallel agents, which are merged back into that same source.
   */
  shareObjects?: boolean;
}

/**
 * Makes a new shadow git in `gitDir` holding the history up to `commit` — its own copy of the objects,
 * fetched as one pack, so it does not depend on the source being kept — and writes that snapshot's
 * files into the empty work tree (bytes, executable bits, symlinks) with the index to match.
 */
export async function cloneShadow(options: CloneShadowOptions): Promise<void> {
  const env = await initShadowGit(options);
  const cwd = options.workTree;
  if (options.shareObjects) {
    const alternates = path.join(options.gitDir, "objects", "info", "alternates");
    await writeFile(alternates, `${path.join(options.fromGitDir, "objects")}\n`, { mode: 0o600 });
    const refs = `update refs/heads/main ${options.commit}\nupdate ${options.baselineRef} ${options.baseRef}\n`;
    await runGit(["update-ref", "--stdin"], { env, cwd, input: refs });
  } else {
    const refspecs = [`+${options.commit}:refs/heads/main`, `+${options.baseRef}:${options.baselineRef}`];
    // HEAD names the still unborn main branch, which fetch updates only when told it may.
    await runGit(fetchFromShadowArgs(options.fromGitDir, refspecs, ["--update-head-ok"]), { env, cwd });
  }
  await runGit(["reset", "-q", "--hard", "HEAD"], { env, cwd });
}

/** A clone's directories must be new places, apart from each other, the source and the user's checkout. */
export function checkCloneLayout(
  source: { repo: string; dir: string; gitDir: string },
  dir: string,
  gitDir: string,
): void {
  for (const [what, place] of [
    ["workspace", dir],
    ["shadow git", gitDir],
  ] as const) {
    for (const [whose, existing] of [
      ["your checkout", source.repo],
      ["the workspace being cloned", source.dir],
      ["its shadow git", source.gitDir],
    ] as const) {
      if (isWithin(existing, place) || isWithin(place, existing)) {
        throw new UserError(
          "clone_overlaps",
          `The clone's ${what} directory ${place} overlaps ${whose} (${existing}). Choose a new run directory.`,
        );
      }
    }
  }
  if (isWithin(dir, gitDir) || isWithin(gitDir, dir)) {
    throw new UserError(
      "workspace_layout",
      `The shadow git ${gitDir} must not be inside the workspace ${dir}.`,
    );
  }
}

/** A new workspace and its shadow git must be outside the user's checkout, and the shadow git outside the copy. */
export function checkCreateLayout(repo: string, dir: string, gitDir: string): void {
  for (const [what, place] of [
    ["workspace", dir],
    ["shadow git", gitDir],
  ] as const) {
    if (isWithin(repo, place) || isWithin(place, repo)) {
      throw new UserError(
        "workspace_inside_repo",
        `The ${what} directory ${place} overlaps your checkout ${repo}; Entourage never writes into your checkout. Choose a run directory outside it.`,
      );
    }
  }
  if (isWithin(dir, gitDir)) {
    throw new UserError(
      "workspace_layout",
      `The shadow git ${gitDir} must not be inside the workspace ${dir}.`,
    );
  }
}
