import { lstatSync, mkdirSync, realpathSync, rmdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { UserError } from "../../../core/index.ts";
import type { DependencyMount, Toolchain } from "../../sandbox.ts";
import { refusedDir } from "../../toolchain.ts";
import { isWithin } from "./workspace-path.ts";

/** A dependency mount after validation: the real host folder and a normalized workspace-relative path. */
export interface CheckedDependency {
  source: string;
  path: string;
}

/** Host directories a dependency may neither be inside of nor contain. */
const SYSTEM_DIRS = ["/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/var/run"];

const fail = (message: string, cause?: unknown) =>
  new UserError("sandbox_dependency", message, cause === undefined ? undefined : { cause });

/** A dependency's `path`: relative, no `..`, no NUL, not `.git`, not the workspace root; returned normalized. */
export function relativeDependencyPath(raw: string): string {
  if (typeof raw !== "string" || raw.includes("\0"))
    throw fail(`The dependency path ${JSON.stringify(raw)} is not a valid path.`);
  if (path.isAbsolute(raw)) {
    throw fail(
      `The dependency path ${JSON.stringify(raw)} must be relative to the workspace root (e.g. "node_modules").`,
    );
  }
  const segments = raw.split(/[/\\]+/).filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    throw fail(`The dependency path ${JSON.stringify(raw)} leaves the workspace (".." is not allowed).`);
  }
  if (segments.length === 0) {
    throw fail(`The dependency path ${JSON.stringify(raw)} is the workspace root; name a folder inside it.`);
  }
  if (segments.includes(".git")) throw fail(`The dependency path ${JSON.stringify(raw)} goes into .git.`);
  return segments.join("/");
}

/**
 * Validates a spec's dependency mounts, the same for every backend: `path` as `relativeDependencyPath` says,
 * each at most once; `source` an absolute path to an existing host directory (symlinks resolved) that is
 * neither the workspace (or around it), nor a system folder, HOME, `/` or a credentials folder. Throws a
 * UserError naming the entry and the fix. Parents come before the folders mounted inside them.
 */
export function checkDependencies(
  deps: readonly DependencyMount[] | undefined,
  options: { workspace: string; home?: string },
): CheckedDependency[] {
  const home = options.home ?? homedir();
  const checked: CheckedDependency[] = [];
  const seen = new Set<string>();
  for (const dep of deps ?? []) {
    const rel = relativeDependencyPath(dep.path);
    if (seen.has(rel)) throw fail(`Two dependency folders are mounted at the same path ${rel}.`);
    seen.add(rel);
    if (!path.isAbsolute(dep.source)) {
      throw fail(
        `The dependency folder for ${rel} must be an absolute host path, got ${JSON.stringify(dep.source)}.`,
      );
    }
    let source: string;
    try {
      source = realpathSync(dep.source);
    } catch (error) {
      throw fail(
        `The dependency folder ${dep.source} (for ${rel}) does not exist: install the dependencies (npm install, …) or drop it.`,
        error,
      );
    }
    if (!statSync(source).isDirectory())
      throw fail(`The dependency ${dep.source} (for ${rel}) is not a directory.`);
    const contains = [options.workspace, home, ...SYSTEM_DIRS].find((dir) => isWithin(source, dir));
    const inside = SYSTEM_DIRS.find((dir) => isWithin(dir, source));
    const refused = refusedDir(source, home);
    if (contains !== undefined || inside !== undefined || source === "/" || refused) {
      const why =
        contains !== undefined
          ? `it is or contains ${contains}`
          : inside !== undefined
            ? `it is inside ${inside}`
            : refused;
      throw fail(
        `Refusing the dependency folder ${source} (for ${rel}): ${why}, which must never be mounted into a sandbox.`,
      );
    }
    checked.push({ source, path: rel });
  }
  return checked.sort((a, b) => a.path.split("/").length - b.path.split("/").length);
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

/**
 * Creates each mountpoint missing in the workspace (`real`: its real path). Every existing component must
 * be a real directory, never a symlink. Returns the undo: the folders it created, removed when empty.
 */
export function prepareMountpoints(real: string, mounts: readonly { path: string }[]): () => void {
  const created: string[] = [];
  const undo = () => {
    for (const dir of [...created].reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty (a command wrote beside a mount) or gone: left as it is
      }
    }
  };
  try {
    for (const mount of mounts) {
      let current = real;
      for (const segment of mount.path.split("/")) {
        current = path.join(current, segment);
        let stat: ReturnType<typeof lstatSync> | undefined;
        try {
          stat = lstatSync(current);
        } catch {
          stat = undefined;
        }
        if (stat === undefined) {
          mkdirSync(current, { mode: 0o755 });
          created.push(current);
        } else if (stat.isSymbolicLink()) {
          throw fail(
            `Cannot mount the dependency folder at ${mount.path}: ${path.relative(real, current)} in the workspace is a symlink. Remove it from the workspace, or mount the folder elsewhere.`,
          );
        } else if (!stat.isDirectory()) {
          throw fail(
            `Cannot mount the dependency folder at ${mount.path}: ${path.relative(real, current)} in the workspace is a file, not a folder.`,
          );
        }
      }
    }
  } catch (error) {
    undo();
    throw error;
  }
  return undo;
}
