import { lstat } from "node:fs/promises";
import path from "node:path";
import { runGit, splitNul, userGitEnv } from "./git.ts";

/** Folder names mounted by default: dependency and build folders, only ever when git ignores them. */
export const DEFAULT_DEPENDENCY_DIRS = [
  "node_modules",
  ".venv",
  "venv",
  "vendor",
  "target",
  "bower_components",
  "__pypackages__",
] as const;

/**
 * The git-ignored directories of the checkout at `repoRoot` (its top level) whose basename is in
 * `names`, at any depth (monorepos: `packages/a/node_modules`), as sorted repo-relative paths. Never
 * descends into them: git lists an ignored directory as one entry (`--directory`), so a 30k-file
 * `node_modules` costs one line. A tracked or not-ignored folder of that name is never returned, nor
 * one below another returned folder, nor a symlink.
 */
export async function findDependencyDirs(repoRoot: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const wanted = new Set(names);
  const result = await runGit(
    ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
    { cwd: repoRoot, env: userGitEnv() },
  );
  const found: string[] = [];
  for (const entry of splitNul(result.stdout)) {
    if (!entry.endsWith("/")) continue;
    // Git lists the parents of an ignored folder too when nothing else is in them (`packages/`,
    // `packages/p/`); a folder ignored by a pattern of its own (`build/`) hides what is inside it, which
    // is not part of the workspace copy either.
    const rel = entry.slice(0, -1);
    if (wanted.has(path.posix.basename(rel))) found.push(rel);
  }
  const dirs: string[] = [];
  for (const rel of found.sort()) {
    if (dirs.some((d) => rel.startsWith(`${d}/`))) continue;
    const info = await lstat(path.join(repoRoot, rel)).catch(() => undefined);
    if (info?.isDirectory()) dirs.push(rel);
  }
  return dirs;
}
