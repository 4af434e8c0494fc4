import { lstatSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { UserError } from "../../../core/index.ts";
import type { DependencyMount, Toolchain } from "../../sandbox.ts";
import { refusedDir } from "../../toolchain.ts";

/** A dependency mount after validation: the real host folder and a normalized workspace-relative path. */
export interface CheckedDependency {
  source: string;
  path: string;
}

/**
 * Validates a spec's dependency mounts: `path` relative, without `.`/`..` segments or `.git`, not the
 * workspace root, each at most once; `source` an existing host directory (symlinks resolved) that may be
 * bound (not HOME, `/` or a credentials folder). Throws a UserError naming the bad entry.
 */
export function checkDependencies(deps: readonly DependencyMount[] | undefined): CheckedDependency[] {
  const checked: CheckedDependency[] = [];
  const seen = new Set<string>();
  for (const dep of deps ?? []) {
    const rel = dep.path;
    const parts = rel.split("/");
    const bad =
      rel === "" ||
      rel.includes("\0") ||
      path.isAbsolute(rel) ||
      parts.some((p) => p === "" || p === "." || p === ".." || p === ".git");
    if (bad) {
      throw new UserError(
        "sandbox_dependency",
        `The dependency mount path ${JSON.stringify(rel)} must be relative to the workspace root, without "." or ".." segments or .git (e.g. "node_modules", "packages/a/node_modules").`,
      );
    }
    if (seen.has(rel))
      throw new UserError("sandbox_dependency", `The dependency mount path ${rel} is given twice.`);
    seen.add(rel);
    let source: string;
    try {
      if (!path.isAbsolute(dep.source)) throw new Error("not absolute");
      source = realpathSync(dep.source);
      if (!statSync(source).isDirectory()) throw new Error("not a directory");
    } catch {
      throw new UserError(
        "sandbox_dependency",
        `The dependency folder ${dep.source} (for ${rel}) is not an existing directory given by an absolute path.`,
      );
    }
    const refused = refusedDir(source, homedir());
    if (refused)
      throw new UserError("sandbox_dependency", `Refusing the dependency folder for ${rel}: ${refused}.`);
    checked.push({ source, path: rel });
  }
  return checked;
}

/**
 * Validates a spec's toolchain folders: absolute, never `/`, HOME or a credentials folder. Returns the
 * existing ones (a folder that disappeared since detection is skipped: bwrap would fail on it).
 */
export function checkToolchainDirs(toolchain: Toolchain | undefined): string[] {
  const dirs: string[] = [];
  for (const dir of toolchain?.dirs ?? []) {
    const refused = refusedDir(dir, homedir());
    if (refused)
      throw new UserError("sandbox_toolchain", `Refusing the toolchain folder ${dir}: ${refused}.`);
    try {
      if (statSync(dir).isDirectory()) dirs.push(path.resolve(dir));
    } catch {
      // gone since detection
    }
  }
  return dirs;
}

/**
 * What is at a dependency's place in the workspace now: nothing ("absent"), a directory ("dir"), or
 * something a mount must not go through ("blocked": a symlink or a file on the way — the agent may have
 * made one; mounting through it could land outside the workspace).
 */
export function mountPoint(workspaceReal: string, rel: string): "absent" | "dir" | "blocked" {
  let at = workspaceReal;
  for (const part of rel.split("/")) {
    at = path.join(at, part);
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(at);
    } catch {
      return "absent";
    }
    if (info.isSymbolicLink() || !info.isDirectory()) return "blocked";
  }
  return "dir";
}
