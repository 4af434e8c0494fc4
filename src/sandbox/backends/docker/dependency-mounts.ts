/**
 * `spec.dependencies` for the docker backend: each host folder (`node_modules`, `.venv`, `target`, …) is
 * bind-mounted read-only at its path inside the container's workspace.
 *
 * `planDependencyMounts` checks the spec (a user-facing error for each mistake) and is pure apart from
 * reading the file system; `prepareMountpoints` creates the missing mountpoints in the workspace, refusing
 * any path through a symlink (a link the workspace holds must not steer a mount elsewhere), and returns
 * the undo.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../../../core/index.ts";
import type { DependencyMount } from "../../sandbox.ts";
import { type CheckedDependency, checkDependencies } from "../shared/dependency-mounts.ts";
import type { WorkspacePaths } from "../shared/workspace-path.ts";

export { prepareMountpoints, relativeDependencyPath } from "../shared/dependency-mounts.ts";

export interface PlannedMount extends CheckedDependency {
  /** Where it appears inside the container (the workspace's path joined with `path`). */
  target: string;
  /** Owner of the folder, to let the sandbox user read it (group) or to say why it cannot. */
  uid: number;
  gid: number;
  mode: number;
}

const fail = (message: string) => new UserError("sandbox_dependency", message);

/** Checks `dependencies` against the workspace (the rule every backend shares), with what docker needs. */
export function planDependencyMounts(
  paths: WorkspacePaths,
  dependencies: readonly DependencyMount[] | undefined,
  home: string,
): PlannedMount[] {
  return checkDependencies(dependencies, { workspace: paths.real, home }).map((dep) => {
    const stat = statSync(dep.source);
    return {
      ...dep,
      target: path.join(paths.path, dep.path),
      uid: stat.uid,
      gid: stat.gid,
      mode: stat.mode & 0o7777,
    };
  });
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
