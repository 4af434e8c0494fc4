import path from "node:path";
import { glob } from "tinyglobby";
import { ToolInputError } from "../core/index.ts";
import type { ConfinedPath } from "./confine.ts";

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
