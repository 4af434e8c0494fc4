import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readlink, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { errorMessage, SystemError, UserError } from "../core/index.ts";
import { runGit, splitNul, userGitEnv } from "./git.ts";
import { fsPath } from "./path-bytes.ts";

/** A path of the user's project that was not copied, and why. */
export interface SkippedPath {
  path: string;
  reason: string;
}

/**
 * The top level of the git work tree containing `repo`. Paths in a workspace, a diff and an apply are
 * relative to it, so a run started in a subdirectory still covers the whole project.
 */
export async function findRepoRoot(repo: string): Promise<string> {
  const absolute = path.resolve(repo);
  const info = await stat(absolute).catch(() => undefined);
  if (!info) {
    throw new UserError(
      "repo_not_found",
      `${absolute} does not exist. Pass the path of your project's git checkout.`,
    );
  }
  if (!info.isDirectory()) {
    throw new UserError(
      "repo_not_found",
      `${absolute} is a file, not a directory. Pass the path of your project's git checkout.`,
    );
  }
  const result = await runGit(["rev-parse", "--show-toplevel"], {
    cwd: absolute,
    env: userGitEnv(),
    okExitCodes: [0, 128],
  });
  const top = result.stdout.toString("utf8").trim();
  if (result.exitCode !== 0 || top === "") {
    throw new UserError(
      "not_a_git_repo",
      `${absolute} is not inside a git work tree (git said: ${result.stderr || "no work tree"}). ` +
        "Entourage works on a copy of a git checkout so it can show you a diff and apply it safely: " +
        'run `git init && git add -A && git commit -m "initial"` there first, or point Entourage at an existing checkout.',
    );
  }
  return top;
}

/** Tracked files plus untracked files that are not ignored: what `git status` calls the project. */
export async function listProjectFiles(repoRoot: string): Promise<string[]> {
  const result = await runGit(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    env: userGitEnv(),
  });
  // An unmerged path is listed once per stage.
  return [...new Set(splitNul(result.stdout))];
}

export interface CopyResult {
  /** Paths copied (files and symlinks), in `git ls-files` order. */
  copied: string[];
  skipped: SkippedPath[];
}

const COPY_CONCURRENCY = 32;
const PRIVATE_DIR = 0o700;

/**
 * Copies the project's files from `repoRoot` into the empty directory `dir`: bytes and modes of files,
 * symlinks as symlinks (never followed), nothing of `.git`. Submodules and nested repositories are
 * skipped with a note. Only reads from `repoRoot`.
 */
export async function copyProject(repoRoot: string, dir: string): Promise<CopyResult> {
  const entries = await listProjectFiles(repoRoot);
  const skipped: SkippedPath[] = [];
  const toCopy: { rel: string; kind: "file" | "symlink"; mode: number }[] = [];
  const parentIsSafe = new Map<string, Promise<boolean>>();

  // Git never lists a path below a symlink, but a stale index can: `a/b` tracked while `a` is now a link.
  const safeParent = (rel: string): Promise<boolean> => {
    const parent = path.posix.dirname(rel);
    if (parent === ".") return Promise.resolve(true);
    let known = parentIsSafe.get(parent);
    if (!known) {
      known = (async () =>
        (await safeParent(parent)) &&
        (await lstat(fsPath(repoRoot, parent)).catch(() => undefined))?.isDirectory() === true)();
      parentIsSafe.set(parent, known);
    }
    return known;
  };

  await forEachLimit(entries, COPY_CONCURRENCY, async (rel) => {
    if (rel.endsWith("/")) {
      skipped.push({ path: rel.slice(0, -1), reason: "nested git repository (not copied)" });
      return;
    }
    if (rel.split("/").some((part) => part === ".git" || part === ".." || part === "")) return;
    if (!(await safeParent(rel))) {
      skipped.push({ path: rel, reason: "a parent directory is a symlink (not followed)" });
      return;
    }
    const info = await lstat(fsPath(repoRoot, rel)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined; // deleted in the checkout but still in the index
      throw unreadable(repoRoot, rel, error);
    });
    if (!info) return;
    if (info.isSymbolicLink()) toCopy.push({ rel, kind: "symlink", mode: 0 });
    else if (info.isFile()) toCopy.push({ rel, kind: "file", mode: info.mode & 0o777 });
    else if (info.isDirectory()) skipped.push({ path: rel, reason: "git submodule (not copied)" });
    else skipped.push({ path: rel, reason: "not a regular file or symlink (not copied)" });
  });

  const dirs = new Set<string>();
  for (const { rel } of toCopy) {
    for (let parent = path.posix.dirname(rel); parent !== "."; parent = path.posix.dirname(parent))
      dirs.add(parent);
  }
  // The copy is the user's alone (0700 directories, files with their owner's bits only); git records no
  // more than the executable bit, so diffs and apply see the modes the project has.
  for (const parent of [...dirs].sort())
    await mkdir(fsPath(dir, parent), { recursive: true, mode: PRIVATE_DIR });

  await forEachLimit(toCopy, COPY_CONCURRENCY, async ({ rel, kind, mode }) => {
    // Names that are not UTF-8 are copied under their own bytes (see path-bytes.ts), never left out.
    const from = fsPath(repoRoot, rel);
    const to = fsPath(dir, rel);
    try {
      if (kind === "symlink") await symlink(await readlink(from, { encoding: "buffer" }), to);
      // libuv's copyfile gives the copy the source's mode; FICLONE shares blocks on CoW filesystems.
      else {
        await copyFile(from, to, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
        if (mode & 0o077) await chmod(to, mode & 0o700);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM" || code === "EISDIR" || code === "ENOENT") {
        throw unreadable(repoRoot, rel, error);
      }
      throw new SystemError(
        "copy_failed",
        `Could not copy ${rel} into the workspace ${dir}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  });

  return { copied: toCopy.map((e) => e.rel), skipped: skipped.sort((a, b) => a.path.localeCompare(b.path)) };
}

function unreadable(repoRoot: string, rel: string, error: unknown): UserError {
  return new UserError(
    "file_unreadable",
    `Cannot read ${rel} in ${repoRoot} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}). ` +
      "Fix its permissions, or add it to .gitignore if it is not part of the project, and try again.",
    { cause: error },
  );
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
