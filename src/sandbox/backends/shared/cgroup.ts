import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { errorMessage } from "../../../core/index.ts";
import {
  type CgroupController,
  type CgroupLayout,
  type CgroupLimits,
  type CgroupSessionPlan,
  type CgroupStep,
  parseProcCgroup,
  planCgroupBase,
  planCgroupSession,
  readCounter,
} from "./cgroup-plan.ts";

const CONTROLLERS: CgroupController[] = ["memory", "pids", "cpu"];

/** Finds this process's cgroups: v2 when the unified hierarchy holds controllers, else v1 per controller. */
export function detectCgroupLayout(root = "/sys/fs/cgroup"): { layout?: CgroupLayout; reason?: string } {
  let own: Map<string, string>;
  try {
    own = parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8"));
  } catch (error) {
    return { reason: `cannot read /proc/self/cgroup: ${errorMessage(error)}` };
  }
  if (existsSync(`${root}/cgroup.controllers`)) {
    const path = own.get("") ?? "/";
    const dir = path === "/" ? root : `${root}${path}`;
    let available: string[] = [];
    try {
      available = readFileSync(`${dir}/cgroup.controllers`, "utf8").trim().split(/\s+/);
    } catch (error) {
      return { reason: `cgroup v2: cannot read ${dir}/cgroup.controllers: ${errorMessage(error)}` };
    }
    return { layout: { version: 2, dir, controllers: CONTROLLERS.filter((c) => available.includes(c)) } };
  }
  const dirs: Partial<Record<CgroupController, string>> = {};
  for (const controller of CONTROLLERS) {
    const path = own.get(controller);
    if (path === undefined || !existsSync(`${root}/${controller}/cgroup.procs`)) continue;
    dirs[controller] = path === "/" ? `${root}/${controller}` : `${root}/${controller}${path}`;
  }
  if (Object.keys(dirs).length === 0)
    return { reason: `no cgroup v1 memory, pids or cpu hierarchy under ${root}` };
  const memsw = dirs.memory !== undefined && existsSync(`${dirs.memory}/memory.memsw.limit_in_bytes`);
  return { layout: { version: 1, dirs, memsw } };
}

/**
 * Creates the shared `entourage` directory. On v2, when enabling controllers fails because our own
 * cgroup holds processes, moves those processes into a `main` leaf first and retries once.
 */
export async function prepareCgroupBase(
  layout: CgroupLayout,
  controllers: CgroupController[],
): Promise<void> {
  const steps = planCgroupBase(layout, controllers);
  try {
    await runSteps(steps);
  } catch (error) {
    if (layout.version !== 2 || (error as NodeJS.ErrnoException).code !== "EBUSY") throw error;
    await mkdirOk(`${layout.dir}/main`);
    const pids = (await readFile(`${layout.dir}/cgroup.procs`, "utf8")).split("\n").filter(Boolean);
    for (const pid of pids) {
      try {
        await writeFile(`${layout.dir}/main/cgroup.procs`, pid);
      } catch {
        // exited meanwhile, or a kernel thread
      }
    }
    await runSteps(steps);
  }
}

/** Creates a session's leaves and writes its limits; on failure removes what it created. */
export async function createCgroupSession(
  layout: CgroupLayout,
  name: string,
  limits: CgroupLimits,
): Promise<CgroupSessionPlan> {
  const plan = planCgroupSession(layout, name, limits);
  try {
    await runSteps(plan.steps);
  } catch (error) {
    await destroyCgroupSession(plan);
    throw error;
  }
  return plan;
}

/** Kills whatever is left in the session's leaves and removes them (retrying while the kernel tears down). */
export async function destroyCgroupSession(plan: CgroupSessionPlan): Promise<void> {
  if (plan.kill && existsSync(plan.kill)) await writeFile(plan.kill, "1").catch(() => {});
  for (const leaf of plan.leaves) {
    for (let attempt = 0; attempt < 50; attempt++) {
      killAll(`${leaf}/cgroup.procs`);
      try {
        await rmdir(leaf);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code !== "EBUSY" || attempt === 49) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}

/** OOM kills counted so far in the session (0 without a memory limit). */
export function readOomKills(plan: CgroupSessionPlan): number {
  if (!plan.oomEvents) return 0;
  try {
    return readCounter(readFileSync(plan.oomEvents.file, "utf8"), plan.oomEvents.key);
  } catch {
    return 0;
  }
}

function killAll(procsFile: string): void {
  let pids: string[];
  try {
    pids = readFileSync(procsFile, "utf8").split("\n").filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone
    }
  }
}

async function runSteps(steps: CgroupStep[]): Promise<void> {
  for (const step of steps) {
    if (step.op === "mkdir") await mkdirOk(step.path);
    else {
      try {
        await writeFile(step.file, step.value);
      } catch (error) {
        if (step.optional && (error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
    }
  }
}

async function mkdirOk(path: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}
