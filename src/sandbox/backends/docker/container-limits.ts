/**
 * How a sandbox's limits become a container's (`HostConfig`), by OCI runtime.
 *
 * runc (the default): memory with swap included, and the pids limit as the container's pids cgroup — the
 * kernel counts exactly the container's processes and threads.
 *
 * runsc (gVisor): the container's cgroups hold the gVisor kernel (the Sentry, its Gofer and, on the ptrace
 * platform, one stub process per address space), not the commands: measured here, 37 host tasks with an idle
 * sandbox, about 8 more per idle process inside it, and a peak of 597 for 32 processes in a bash fork-retry
 * loop (18 each). A pids cgroup set to the sandbox's own `pids` is met by the
 * Sentry's threads long before the commands' count, and the Sentry then panics ("error initializing first
 * thread: resource temporarily unavailable") and the whole sandbox dies. So under runsc the process cap is
 * RLIMIT_NPROC (`Ulimits` nproc), which the Sentry enforces per uid inside its own kernel: every command runs
 * as the sandbox uid, so it counts exactly the sandbox's processes (unlike runc, where RLIMIT_NPROC counts the
 * uid across the host). The pids cgroup stays as a backstop sized for the Sentry (`gvisorHostTasks`: about
 * twice the peak measured), so the Sentry can neither exhaust the host's pids nor meet the backstop first.
 */

import type { SandboxLimits } from "../../sandbox.ts";

/** Host tasks the gVisor kernel may use for a sandbox of `pids` processes: its idle set plus headroom per process. */
export function gvisorHostTasks(pids: number): number {
  return 1024 + 32 * pids;
}

export interface ContainerLimits {
  Memory?: number;
  MemorySwap?: number;
  PidsLimit?: number;
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
}

/** The `HostConfig` fields for `limits` under `runtime` (undefined: the engine's default, runc). */
export function containerLimits(
  limits: Pick<SandboxLimits, "memoryBytes" | "pids">,
  runtime: string | undefined,
): ContainerLimits {
  const out: ContainerLimits = {};
  if (limits.memoryBytes !== undefined) {
    out.Memory = Math.floor(limits.memoryBytes);
    out.MemorySwap = Math.floor(limits.memoryBytes);
  }
  if (limits.pids !== undefined) {
    const pids = Math.floor(limits.pids);
    if (isGvisor(runtime)) {
      out.Ulimits = [{ Name: "nproc", Soft: pids, Hard: pids }];
      out.PidsLimit = gvisorHostTasks(pids);
    } else {
      out.PidsLimit = pids;
    }
  }
  return out;
}

/** Whether `runtime` is gVisor's: `runsc`, or a name registered for it such as `runsc-ptrace` or `gvisor`. */
export function isGvisor(runtime: string | undefined): boolean {
  return runtime !== undefined && /^(runsc|gvisor)/i.test(runtime);
}
