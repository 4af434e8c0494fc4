/** What a docker sandbox's container mounts: the workspace, the dependency folders, a preloaded shim. */

import type Docker from "dockerode";
import type { WorkspacePaths } from "../shared/workspace-path.ts";
import type { PlannedMount } from "./dependency-mounts.ts";

/**
 * The container's `Mounts`. Copied (a remote engine): an anonymous volume (removed with the container) that the
 * archive endpoints write. Else the workspace bound read-write at its host path, and each dependency folder and
 * the preload (a host shared object, `DockerBackendOptions.preload`) read-only.
 */
export function containerMounts(
  paths: WorkspacePaths,
  dependencies: readonly PlannedMount[],
  copied: boolean,
  preload: { source: string; target: string } | undefined,
): Docker.MountConfig {
  if (copied) return [{ Type: "volume", Source: "", Target: paths.path }];
  return [
    {
      Type: "bind",
      Source: paths.real,
      Target: paths.path,
      ReadOnly: false,
      BindOptions: { Propagation: "rprivate" },
    },
    ...[...dependencies, ...(preload ? [preload] : [])].map((mount) => ({
      Type: "bind" as const,
      Source: mount.source,
      Target: mount.target,
      ReadOnly: true,
      BindOptions: { Propagation: "rprivate" as const },
    })),
  ];
}
