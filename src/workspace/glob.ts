import path from "node:path";
import { glob } from "tinyglobby";
import { ToolInputError } from "../core/index.ts";
import type { ConfinedPath } from "./confine.ts";
import { type GitResult, splitNul } from "./git.ts";

export interface ListOptions {
  /** Glob; without a `/` it matches file names at any depth (`*.ts`), with one the path from `path`. */
  pattern?: string;
  /** Directory to list, relative to the root. */
  path?: string;
}

/**
 * `Workspace.list`: the project's files (tracked or new, not ignored by .gitignore) under `base`, sorted,
 * workspace-relative, matching `pattern` when one is given; `git` runs git on the shadow git.
 */
export async function listProjectFiles(
  base: ConfinedPath,
  pattern: string | undefined,
  git: (args: string[]) => Promise<GitResult>,
): Promise<string[]> {
  const [listed, deleted] = await Promise.all([
    git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]),
    git(["ls-files", "-z", "--deleted"]),
  ]);
  const gone = new Set(splitNul(deleted.stdout));
  const prefix = base.rel === "" ? "" : `${base.rel}/`;
  let files = [...new Set(splitNul(listed.stdout))].filter(
    (f) => !gone.has(f) && !f.endsWith("/") && (prefix === "" || f.startsWith(prefix) || f === base.rel),
  );
  if (pattern !== undefined && pattern !== "") {
    // Ignored directories (node_modules, build output) are not walked at all.
    const ignored = await git([
      "ls-files",
      "-z",
      "--others",
      "--ignored",
      "--exclude-standard",
      "--directory",
    ]);
    const matched = await globWithin(base, pattern, splitNul(ignored.stdout));
    files = files.filter((f) => matched.has(f));
  }
  return files.sort();
}

/**
 * The workspace files under `base` that match `pattern` (a bare name matches at any depth), never walking
 * `.git` or the git-ignored directories given (`git ls-files --ignored --directory` output, ending in `/`).
 * Paths come back workspace-relative. Symlinks are not followed.
 */
export async function globWithin(
  base: ConfinedPath,
  pattern: string,
  ignoredDirs: readonly string[],
): Promise<Set<string>> {
  if (path.isAbsolute(pattern) || pattern.split("/").includes("..")) {
    throw new ToolInputError(
      `The pattern ${JSON.stringify(pattern)} must stay inside the directory being listed: no absolute paths or "..".`,
      { code: "pattern_escape" },
    );
  }
  const ignore = ignoredDirs
    .filter((p) => p.endsWith("/") && (base.rel === "" || p.startsWith(`${base.rel}/`)))
    .map((p) => `${p.slice(base.rel === "" ? 0 : base.rel.length + 1)}**`);
  const found = await glob(pattern.includes("/") ? pattern : `**/${pattern}`, {
    cwd: base.real,
    dot: true,
    followSymbolicLinks: false,
    expandDirectories: false,
    ignore: [".git/**", ...ignore],
  });
  return new Set(found.map((f) => (base.rel === "" ? f : `${base.rel}/${f}`)));
}
