/**
 * `spec.dependencies` for the docker backend: each host folder (`node_modules`, `.venv`, `target`, …) is
 * bind-mounted read-only at its path inside the container's workspace.
 *
 * `planDependencyMounts` checks the spec (a user-facing error for each mistake) and is pure apart from
 * reading the file system; `prepareMountpoints` creates the missing mountpoints in the workspace, refusing
 * any path through a symlink (a link the workspace holds must not steer a mount elsewhere), and returns
 * the undo.
 */
import { lstatSync, mkdirSync, realpathSync, rmdirSync, statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../../../core/index.ts";
import type { DependencyMount } from "../../sandbox.ts";
import { isWithin, type WorkspacePaths } from "../shared/workspace-path.ts";

/** Host directories a dependency may neither be inside of nor contain. */
const SYSTEM_DIRS = ["/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/var/run"];

export interface PlannedMount {
  /** The folder's real path on the host (symlinks resolved): what is mounted. */
  source: string;
  /** Relative to the workspace root, normalized (`packages/a/node_modules`). */
  path: string;
  /** Where it appears inside the container (the workspace's path joined with `path`). */
  target: string;
  /** Owner of the folder, to let the sandbox user read it (group) or to say why it cannot. */
  uid: number;
  gid: number;
  mode: number;
}

const fail = (message: string) => new UserError("sandbox_dependency", message);

/** Checks `dependencies` against the workspace; throws UserError naming the entry and the fix. */
export function planDependencyMounts(
  paths: WorkspacePaths,
  dependencies: readonly DependencyMount[] | undefined,
  home: string,
): PlannedMount[] {
  const planned: PlannedMount[] = [];
  const seen = new Set<string>();
  for (const dependency of dependencies ?? []) {
    const rel = relativeDependencyPath(dependency.path);
    if (seen.has(rel)) throw fail(`Two dependency folders are mounted at the same path ${rel}.`);
    seen.add(rel);
    if (!path.isAbsolute(dependency.source)) {
      throw fail(
        `The dependency folder for ${rel} must be an absolute host path, got ${JSON.stringify(dependency.source)}.`,
      );
    }
    let source: string;
    let stat: ReturnType<typeof statSync>;
    try {
      source = realpathSync(dependency.source);
      stat = statSync(source);
    } catch (error) {
      throw new UserError(
        "sandbox_dependency",
        `The dependency folder ${dependency.source} (for ${rel}) does not exist: install the dependencies (npm install, …) or drop it.`,
        { cause: error },
      );
    }
    if (!stat.isDirectory())
      throw fail(`The dependency ${dependency.source} (for ${rel}) is not a directory.`);
    const contains = [paths.real, home, ...SYSTEM_DIRS].find((dir) => isWithin(source, dir));
    const inside = SYSTEM_DIRS.find((dir) => isWithin(dir, source));
    if (contains !== undefined || inside !== undefined || source === "/") {
      throw fail(
        `Refusing the dependency folder ${source} (for ${rel}): it ${contains !== undefined ? `is or contains ${contains}` : `is inside ${inside}`}, which must never be mounted into a sandbox.`,
      );
    }
    planned.push({
      source,
      path: rel,
      target: path.join(paths.path, rel),
      uid: stat.uid,
      gid: stat.gid,
      mode: stat.mode & 0o7777,
    });
  }
  // Parents before the folders mounted inside them.
  return planned.sort((a, b) => a.path.split("/").length - b.path.split("/").length);
}

/** A dependency's `path`: relative, no `..`, no NUL, not the workspace root; returned normalized. */
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
  return segments.join("/");
}

/**
 * Whether `user` can list and read the folder by its mode bits (owner, the group the container adds, or
 * others). Throws a UserError with the fix when it cannot.
 */
export function assertReadableBy(mount: PlannedMount, user: { uid: number; groups: number[] }): void {
  const bits =
    mount.uid === user.uid
      ? (mount.mode >> 6) & 7
      : user.groups.includes(mount.gid)
        ? (mount.mode >> 3) & 7
        : mount.mode & 7;
  if ((bits & 5) === 5) return;
  throw fail(
    `The dependency folder ${mount.source} (for ${mount.path}) is not readable by the sandbox user uid ${user.uid} (mode ${mount.mode.toString(8).padStart(4, "0")}, owner ${mount.uid}:${mount.gid}). Make it readable (chmod -R a+rX ${mount.source}), or run Entourage as the folder's owner.`,
  );
}

/**
 * Creates each mountpoint missing in the workspace (`real`: its real path). Every existing component must
 * be a real directory, never a symlink. Returns the undo: the folders it created, removed when empty.
 */
export function prepareMountpoints(real: string, mounts: readonly PlannedMount[]): () => void {
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
