import { readdirSync, readFileSync } from "node:fs";

/** The variable every process of a subprocess-backend command inherits: `<session>.<exec>`. */
export const EXEC_MARKER_VAR = "ENTOURAGE_SANDBOX_EXEC";

/** True when a NUL-separated `/proc/<pid>/environ` holds a variable that starts with `needle`. */
export function environHas(environ: Buffer, needle: string): boolean {
  const bytes = Buffer.from(needle, "utf8");
  let start = 0;
  while (start < environ.length) {
    let end = environ.indexOf(0, start);
    if (end === -1) end = environ.length;
    if (end - start >= bytes.length && environ.subarray(start, start + bytes.length).equals(bytes))
      return true;
    start = end + 1;
  }
  return false;
}

/**
 * Pids of processes whose environment carries `needle` (e.g. `ENTOURAGE_SANDBOX_EXEC=ab12.7`). This finds
 * what a process group cannot: `setsid` daemons and double-forked grandchildren, which leave the group
 * but keep the environment they were started with.
 */
export function findMarkedProcesses(needle: string, procRoot = "/proc"): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return pids;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      if (environHas(readFileSync(`${procRoot}/${entry}/environ`), needle)) pids.push(pid);
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/**
 * SIGKILLs the process group `pgid` and then every process still carrying `needle` in its environment,
 * twice, since one may have forked while the first sweep ran.
 */
export function killProcessTree(pgid: number | undefined, needle: string): void {
  if (pgid !== undefined) signal(-pgid);
  for (let pass = 0; pass < 2; pass++) {
    const pids = findMarkedProcesses(needle);
    if (pids.length === 0) return;
    for (const pid of pids) signal(pid);
  }
}

/** SIGKILLs the process group `pgid`; a no-op when it is already gone. */
export function killProcessGroup(pgid: number): void {
  signal(-pgid);
}

function signal(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // ESRCH: already gone
  }
}
