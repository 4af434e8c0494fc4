/**
 * The subprocess backend's process cap: a pids cgroup per sandbox session when the host lets this process
 * create one (root, or a delegated cgroup), the same plan as bwrap's (`shared/cgroup-plan.ts`). Each command's
 * launcher shell writes its pid into the leaf before it execs the command, so everything the command starts
 * is counted and a fork past the cap fails with EAGAIN. Without cgroups the cap is not enforced and the probe
 * says why. (RLIMIT_NPROC is no substitute: it counts every process of the uid across the host.)
 */

import { randomBytes } from "node:crypto";
import { errorMessage } from "../../../core/index.ts";
import {
  createCgroupSession,
  destroyCgroupSession,
  detectCgroupLayout,
  prepareCgroupBase,
} from "../shared/cgroup.ts";
import { type CgroupSessionPlan, describeLayout, missingControllers } from "../shared/cgroup-plan.ts";

export type ProcessCap = { plan: CgroupSessionPlan } | { reason: string };

let usable: Promise<{ ok: true; layout: string } | { ok: false; reason: string }> | undefined;

/** Whether pids cgroups can be made here (checked once per process with a throwaway leaf). */
export function processCapSupport(): Promise<{ ok: true; layout: string } | { ok: false; reason: string }> {
  usable ??= (async () => {
    const found = detectCgroupLayout();
    if (!found.layout) return { ok: false as const, reason: found.reason ?? "no cgroups" };
    if (missingControllers(found.layout, ["pids"]).length > 0)
      return { ok: false as const, reason: "the pids controller is not available" };
    try {
      await prepareCgroupBase(found.layout, ["pids"]);
      const probe = await createCgroupSession(
        found.layout,
        `subprocess-probe-${randomBytes(4).toString("hex")}`,
        {
          pids: 16,
        },
      );
      await destroyCgroupSession(probe);
      return { ok: true as const, layout: describeLayout(found.layout) };
    } catch (error) {
      return { ok: false as const, reason: `cannot create cgroups: ${errorMessage(error)}` };
    }
  })();
  return usable;
}

/** A session's pids leaf for `pids` processes, or why there is none. */
export async function createProcessCap(session: string, pids: number | undefined): Promise<ProcessCap> {
  if (pids === undefined) return { reason: "no pids limit in the spec" };
  const support = await processCapSupport();
  if (!support.ok) return { reason: support.reason };
  const layout = detectCgroupLayout().layout;
  if (!layout) return { reason: "cgroups disappeared" };
  // bwrap's leaf name (`session-<pid>-<hex>`): a leaf left by a crash is swept with bwrap's (stale-sessions.ts).
  return { plan: await createCgroupSession(layout, `session-${process.pid}-${session}`, { pids }) };
}

/** The launcher's shell prefix that joins the leaf (the procs paths are ours: quoted, never from the spec). */
export function joinScript(plan: CgroupSessionPlan | undefined): string {
  if (!plan || plan.procs.length === 0) return "";
  const files = plan.procs.map((file) => `'${file.replaceAll("'", "'\\''")}'`).join(" ");
  return `for f in ${files}; do echo $$ > "$f" || exit 126; done; `;
}

export async function releaseProcessCap(cap: ProcessCap | undefined): Promise<void> {
  if (cap && "plan" in cap) await destroyCgroupSession(cap.plan).catch(() => {});
}
