/**
 * Pure planning of the per-session cgroup: which directories to create and which files to write, for
 * cgroup v1 (one hierarchy per controller, as on this project's build machines) and v2 (one unified
 * hierarchy). `cgroup.ts` carries the plans out.
 *
 * Placement: below this process's own cgroup (read from /proc/self/cgroup), in an `entourage` directory,
 * one leaf per sandbox session. Nesting under our own cgroup respects whatever limits and delegation
 * the host set for Entourage itself. On v2 the no-internal-processes rule forbids enabling controllers
 * for the children of a cgroup that holds processes, so `cgroup.ts` first moves this process into a
 * `main` leaf beside `entourage` (what systemd calls delegation) when that is needed.
 */

export type CgroupController = "memory" | "pids" | "cpu";

export type CgroupLayout =
  /** v1: the directory of our own cgroup in each mounted controller hierarchy. */
  | { version: 1; dirs: Partial<Record<CgroupController, string>>; memsw: boolean }
  /** v2: the directory of our own cgroup in the unified hierarchy. */
  | { version: 2; dir: string; controllers: CgroupController[] };

export interface CgroupLimits {
  memoryBytes?: number;
  pids?: number;
  /** CPU bandwidth in cores (1.5 = one and a half CPUs), enforced with CFS quota. */
  cpuQuota?: number;
}

export type CgroupStep =
  | { op: "mkdir"; path: string }
  | { op: "write"; file: string; value: string; optional?: boolean };

export interface CgroupSessionPlan {
  steps: CgroupStep[];
  /** Leaf directories of the session, removed by destroy(). */
  leaves: string[];
  /** `cgroup.procs` files the launcher writes its pid into. */
  procs: string[];
  /** Where the kernel counts OOM kills for this session (`<key> <n>` lines). */
  oomEvents?: { file: string; key: string };
  /** v2 `cgroup.kill`: kills every process of the leaf at once. */
  kill?: string;
}

const CPU_PERIOD_US = 100_000;

/** The controllers the limits need. */
export function neededControllers(limits: CgroupLimits): CgroupController[] {
  const controllers: CgroupController[] = [];
  if (limits.memoryBytes !== undefined) controllers.push("memory");
  if (limits.pids !== undefined) controllers.push("pids");
  if (limits.cpuQuota !== undefined) controllers.push("cpu");
  return controllers;
}

/** Controllers the layout cannot provide. */
export function missingControllers(
  layout: CgroupLayout,
  controllers: CgroupController[],
): CgroupController[] {
  return controllers.filter((c) =>
    layout.version === 1 ? layout.dirs[c] === undefined : !layout.controllers.includes(c),
  );
}

/** The shared `entourage` directory (and, on v2, enabled controllers) every session leaf lives in. */
export function planCgroupBase(layout: CgroupLayout, controllers: CgroupController[]): CgroupStep[] {
  if (layout.version === 1) {
    return controllers.flatMap((c) =>
      layout.dirs[c] ? [{ op: "mkdir" as const, path: `${layout.dirs[c]}/entourage` }] : [],
    );
  }
  const enable = controllers.map((c) => `+${c}`).join(" ");
  if (!enable) return [];
  return [
    { op: "write", file: `${layout.dir}/cgroup.subtree_control`, value: enable },
    { op: "mkdir", path: `${layout.dir}/entourage` },
    { op: "write", file: `${layout.dir}/entourage/cgroup.subtree_control`, value: enable },
  ];
}

/** One session's leaf (or leaves, on v1) with its limits written before any process joins. */
export function planCgroupSession(
  layout: CgroupLayout,
  name: string,
  limits: CgroupLimits,
): CgroupSessionPlan {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`invalid cgroup name ${JSON.stringify(name)}`);
  const controllers = neededControllers(limits);
  const plan: CgroupSessionPlan = { steps: [], leaves: [], procs: [] };
  if (controllers.length === 0) return plan;

  if (layout.version === 1) {
    for (const controller of controllers) {
      const own = layout.dirs[controller];
      if (!own) continue;
      const leaf = `${own}/entourage/${name}`;
      plan.steps.push({ op: "mkdir", path: leaf });
      plan.leaves.push(leaf);
      plan.procs.push(`${leaf}/cgroup.procs`);
      if (controller === "memory") {
        const bytes = String(Math.floor(limits.memoryBytes!));
        plan.steps.push({ op: "write", file: `${leaf}/memory.limit_in_bytes`, value: bytes });
        // memory + swap: without it a hog swaps instead of being killed. Set after the memory limit
        // (the kernel requires memsw >= memory).
        if (layout.memsw)
          plan.steps.push({ op: "write", file: `${leaf}/memory.memsw.limit_in_bytes`, value: bytes });
        plan.oomEvents = { file: `${leaf}/memory.oom_control`, key: "oom_kill" };
      } else if (controller === "pids") {
        plan.steps.push({ op: "write", file: `${leaf}/pids.max`, value: String(Math.floor(limits.pids!)) });
      } else {
        plan.steps.push(
          { op: "write", file: `${leaf}/cpu.cfs_period_us`, value: String(CPU_PERIOD_US) },
          { op: "write", file: `${leaf}/cpu.cfs_quota_us`, value: String(quotaUs(limits.cpuQuota!)) },
        );
      }
    }
    return plan;
  }

  const leaf = `${layout.dir}/entourage/${name}`;
  plan.steps.push({ op: "mkdir", path: leaf });
  plan.leaves.push(leaf);
  plan.procs.push(`${leaf}/cgroup.procs`);
  plan.kill = `${leaf}/cgroup.kill`;
  if (limits.memoryBytes !== undefined) {
    plan.steps.push(
      { op: "write", file: `${leaf}/memory.max`, value: String(Math.floor(limits.memoryBytes)) },
      // No swap at all: the limit is memory + swap. Absent when the kernel has no swap accounting.
      { op: "write", file: `${leaf}/memory.swap.max`, value: "0", optional: true },
    );
    plan.oomEvents = { file: `${leaf}/memory.events`, key: "oom_kill" };
  }
  if (limits.pids !== undefined)
    plan.steps.push({ op: "write", file: `${leaf}/pids.max`, value: String(Math.floor(limits.pids)) });
  if (limits.cpuQuota !== undefined) {
    plan.steps.push({
      op: "write",
      file: `${leaf}/cpu.max`,
      value: `${quotaUs(limits.cpuQuota)} ${CPU_PERIOD_US}`,
    });
  }
  return plan;
}

/** Parses /proc/self/cgroup into controller → path (v1) and the unified path (v2, key ""). */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, controllers, path] = match;
    if (controllers === "") paths.set("", path!);
    for (const controller of controllers!.split(",")) if (controller) paths.set(controller, path!);
  }
  return paths;
}

/** Reads a counter (`oom_kill 3`) from a flat-keyed cgroup file. */
export function readCounter(text: string, key: string): number {
  for (const line of text.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key) return Number(value) || 0;
  }
  return 0;
}

function quotaUs(cores: number): number {
  return Math.max(1000, Math.round(cores * CPU_PERIOD_US));
}

/** One line describing a cgroup layout, for `doctor` and probe details. */
export function describeLayout(layout: CgroupLayout): string {
  if (layout.version === 2) return `v2 at ${layout.dir}/entourage (${layout.controllers.join(", ")})`;
  const dirs = Object.entries(layout.dirs).map(([c, d]) => `${c}: ${d}/entourage`);
  return `v1 (${dirs.join("; ")}; swap accounting ${layout.memsw ? "on" : "off"})`;
}
