/** Who a docker sandbox's commands run as, and the groups they get. */

import { UserError } from "../../../core/index.ts";
import type { PlannedMount } from "./dependency-mounts.ts";
import { IMAGE_SANDBOX_USER } from "./image.ts";

export interface Identity {
  uid: number;
  gid: number;
  /** Entourage runs as root: the workspace is chowned to uid:gid for the session. */
  lend: boolean;
}

/**
 * The groups commands get on top of their own: the dependency folders' groups when the commands run as the
 * sandbox uid (so group-readable files stay readable), root's never.
 */
export function addedGroups(user: Identity, mounts: readonly PlannedMount[]): number[] {
  if (!user.lend) return [];
  return [...new Set(mounts.map((m) => m.gid))].filter((gid) => gid !== 0 && gid !== user.gid);
}

export function identity(options: { sandboxUser?: { uid: number; gid: number } }): Identity {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (uid !== 0) return { uid, gid, lend: false };
  const user = options.sandboxUser ?? IMAGE_SANDBOX_USER;
  if (user.uid === 0)
    throw new UserError("sandbox_user", "The docker sandbox user must not be root (uid 0).");
  return { uid: user.uid, gid: user.gid, lend: true };
}
