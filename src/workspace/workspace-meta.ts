/**
 * A workspace on disk: its meta file in the shadow git directory (written last and atomically, so a folder
 * without it is not a workspace), the private HOME git runs with, and how its folders are made and kept
 * private (0700/0600 whatever the umask).
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { UserError } from "../core/index.ts";
import type { SkippedPath } from "./copy-repo.ts";

const execFileAsync = promisify(execFile);

const META_FILE = "entourage/workspace.json";
/** HOME of the git commands on the shadow git (inside its directory: no user config is read). */
export const HOME_DIR = "entourage/home";

/** What `Workspace.open` needs, stored as JSON in the shadow git directory. */
export interface WorkspaceMeta {
  version: 1;
  repo: string;
  dir: string;
  gitDir: string;
  baseRef: string;
  createdAt: number;
  skipped: SkippedPath[];
  /** Set on a workspace made by `cloneAt`: where it came from (for provenance only, never read back). */
  clonedFrom?: { dir: string; ref: string };
}

export function metaPathOf(gitDir: string): string {
  return path.join(gitDir, META_FILE);
}

/** The meta of the workspace whose shadow git is `gitDir`; a clear error when there is none or it is newer. */
export async function readMeta(gitDir: string, dirGiven: string): Promise<WorkspaceMeta> {
  const metaPath = metaPathOf(gitDir);
  const text = await readFile(metaPath, "utf8").catch(() => undefined);
  if (text === undefined) {
    throw new UserError(
      "workspace_not_found",
      `${dirGiven} is not an Entourage workspace: ${metaPath} is missing. Check the run id or directory.`,
    );
  }
  const meta = JSON.parse(text) as WorkspaceMeta;
  if (meta.version !== 1) {
    throw new UserError(
      "workspace_version",
      `${metaPath} has version ${meta.version}; this Entourage reads version 1. Upgrade Entourage.`,
    );
  }
  return meta;
}

/**
 * Files git writes into the work tree (restore, clone, merge) get the umask's mode, 0644 under the usual
 * 022: take group's and others' bits away, as the copy does. `chmod -R` never follows a symlink it meets.
 */
export async function keepPrivate(dir: string): Promise<void> {
  await execFileAsync("chmod", ["-R", "go-rwx", "--", dir]);
}

/** Written last and atomically: a directory without it is not a workspace (`open` says so). */
export async function writeMeta(meta: WorkspaceMeta): Promise<void> {
  const metaPath = metaPathOf(meta.gitDir);
  await writeFile(`${metaPath}.tmp`, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
  await rename(`${metaPath}.tmp`, metaPath);
}

/**
 * Makes a workspace's two folders (`dir`, and `gitDir`, by default `shadow.git` beside it), new or empty, and
 * fills them: `check` runs on the paths as given and again once symlinks are resolved (`resolved`), before
 * `fill`. On failure the folders this made are removed.
 */
export async function inNewWorkspaceDirs<T>(
  dirOption: string,
  gitDirOption: string | undefined,
  check: (dir: string, gitDir: string, resolved: boolean) => void,
  fill: (dir: string, gitDir: string) => Promise<T>,
): Promise<T> {
  const dirGiven = path.resolve(dirOption);
  const gitDirGiven = path.resolve(gitDirOption ?? path.join(path.dirname(dirGiven), "shadow.git"));
  check(dirGiven, gitDirGiven, false);
  let createdDir = false;
  let createdGitDir = false;
  try {
    createdDir = await ensureEmptyDir(dirGiven);
    createdGitDir = await ensureEmptyDir(gitDirGiven);
    const dir = await realpath(dirGiven);
    const gitDir = await realpath(gitDirGiven);
    check(dir, gitDir, true);
    return await fill(dir, gitDir);
  } catch (error) {
    if (createdDir) await rm(dirGiven, { recursive: true, force: true });
    if (createdGitDir) await rm(gitDirGiven, { recursive: true, force: true });
    throw error;
  }
}

/** Makes `dir` if missing (returns true) or checks it is empty (returns false). */
export async function ensureEmptyDir(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (entries === undefined) {
    // 0700 (and so are the run directory and `runs/` when this makes them): the copy holds the user's code.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return true;
  }
  if (entries.length > 0) {
    throw new UserError(
      "workspace_exists",
      `${dir} already exists and is not empty. Choose a new run directory or remove it.`,
    );
  }
  return false;
}

/** The lines of `info/exclude` (`current`) with `paths` added, anchored; a clear error for a path that is not plain. */
export function excludeLines(current: string, paths: readonly string[]): Set<string> {
  const lines = new Set(current.split("\n").filter((l) => l !== ""));
  for (const rel of paths) {
    if (rel === "" || path.isAbsolute(rel) || rel.split("/").includes("..") || /[\n*?[\\!#]/.test(rel)) {
      throw new UserError(
        "exclude_path_invalid",
        `${JSON.stringify(rel)} cannot be excluded from snapshots: give a plain workspace-relative path.`,
      );
    }
    lines.add(`/${rel}`);
  }
  return lines;
}

/**
 * Adds `paths` (workspace-relative) to the shadow git's `info/exclude` (`excludeLines`); returns false when
 * every one was there already, and then writes nothing.
 */
export async function addExcludes(gitDir: string, paths: readonly string[]): Promise<boolean> {
  const file = path.join(gitDir, "info", "exclude");
  const current = await readFile(file, "utf8").catch(() => "");
  const lines = excludeLines(current, paths);
  if (lines.size === excludeLines(current, []).size) return false;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${[...lines].join("\n")}\n`, { mode: 0o600 });
  return true;
}
