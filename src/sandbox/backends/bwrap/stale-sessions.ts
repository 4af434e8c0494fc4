import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CgroupLayout } from "../shared/cgroup-plan.ts";

/**
 * Sessions a process did not destroy (it crashed, or forgot): every session's cgroup leaf and state dir
 * carry the owner's pid, so a later probe removes those whose owner is gone, and a process that exits
 * normally removes its own synchronously. Workspaces lent to the sandbox uid stay with it in that case
 * (the original owner is not recorded on disk); root can still read and write them.
 */

/** `session-<pid>-<id>`: the cgroup leaf name of a session. */
export function sessionName(id: string, pid = process.pid): string {
  return `session-${pid}-${id}`;
}

/** Prefix of a session's state dir under the temp dir. */
export function stateDirPrefix(id: string, pid = process.pid): string {
  return `entourage-bwrap-${pid}-${id}-`;
}

/** The owner pid in a session cgroup or state dir name, or undefined when the name is not one. */
export function ownerPid(name: string): number | undefined {
  const match = /^(?:session|entourage-bwrap)-(\d+)-[0-9a-f]+(?:-|$)/.exec(name);
  return match ? Number(match[1]) : undefined;
}

interface Live {
  leaves: string[];
  stateDir: string;
}

const live = new Set<Live>();
let exitHook = false;

/** Tracks a session until `release`; on process exit whatever is still tracked is removed (best effort). */
export function trackSession(session: Live): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const s of live) removeSync(s);
    });
  }
  live.add(session);
  return () => live.delete(session);
}

/** Removes the cgroup leaves and state dirs of sessions whose owner process no longer exists. */
export function sweepStaleSessions(layout: CgroupLayout | undefined, tmp = tmpdir()): number {
  let removed = 0;
  const dead = (name: string) => {
    const pid = ownerPid(name);
    return pid !== undefined && pid !== process.pid && !existsSync(`/proc/${pid}`);
  };
  const bases = !layout
    ? []
    : layout.version === 2
      ? [`${layout.dir}/entourage`]
      : Object.values(layout.dirs).map((dir) => `${dir}/entourage`);
  for (const base of bases) {
    for (const name of listOptional(base)) {
      if (!dead(name)) continue;
      removeSync({ leaves: [path.join(base, name)], stateDir: "" });
      removed++;
    }
  }
  for (const name of listOptional(tmp)) {
    if (!name.startsWith("entourage-bwrap-") || !dead(name)) continue;
    rmSync(path.join(tmp, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function removeSync(session: Live): void {
  for (const leaf of session.leaves) {
    try {
      for (const pid of readFileSync(`${leaf}/cgroup.procs`, "utf8").split("\n").filter(Boolean)) {
        process.kill(Number(pid), "SIGKILL");
      }
    } catch {
      // gone already
    }
    try {
      rmdirSync(leaf);
    } catch {
      // still busy: a later sweep removes it
    }
  }
  if (session.stateDir) rmSync(session.stateDir, { recursive: true, force: true });
}

function listOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
