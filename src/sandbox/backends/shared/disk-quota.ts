import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import type { ExecOptions, ExecResult } from "../../sandbox.ts";

/**
 * The per-run disk quota, the same for every backend (each passes the host folders its commands can
 * write). Two mechanisms:
 * - the kernel's RLIMIT_FSIZE, set by each backend to the quota: no single file grows past it (`yes > big`
 *   and `dd` are stopped by SIGXFSZ at once, however fast they write);
 * - this supervisor: it measures the folders while a command runs and kills the command (through its
 *   abort signal, which every backend honours by killing the whole process tree) once they hold more than
 *   the quota *and* more than when the command started — so `rm` of a big file while over the quota is
 *   never stopped. Measuring walks the tree (lstat, never following links, not crossing into other
 *   filesystems, hard links once), so its interval grows with the walk's cost (5×, 100 ms – 10 s): at most
 *   ~20% of one core.
 *   Many small files written faster than a walk can overshoot by what is written in one interval.
 */
export interface DiskQuota {
  /** Host folders the command may write (workspace, private HOME). */
  dirs: readonly string[];
  limitBytes: number;
}

/** The quota of a sandbox whose commands may write `dirs`, or undefined when the spec sets none. */
export function diskQuota(limitBytes: number | undefined, dirs: readonly string[]): DiskQuota | undefined {
  return limitBytes === undefined ? undefined : { dirs, limitBytes: Math.floor(limitBytes) };
}

const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 10_000;
const WALK_BATCH = 32;
/** Exit status of a process killed by SIGXFSZ (signal 25): a write went past RLIMIT_FSIZE. */
const FILE_SIZE_LIMIT_EXIT = 128 + 25;

/** Bytes the folders take on disk: allocated blocks, each inode once, without crossing filesystems. */
export async function diskUsage(dirs: readonly string[]): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  // Buffer paths: a file whose name is not UTF-8 is counted like any other.
  const visit = async (file: Buffer, device: number | undefined): Promise<void> => {
    const info = await lstat(file).catch(() => undefined);
    if (!info || (device !== undefined && info.dev !== device)) return;
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += info.blocks * 512;
    if (!info.isDirectory()) return;
    const names = await readdir(file, { encoding: "buffer" }).catch(() => [] as Buffer[]);
    const prefix = Buffer.concat([file, Buffer.from("/")]);
    // A few lstats in flight at a time: the thread pool works them in parallel (~3× a sequential walk).
    for (let at = 0; at < names.length; at += WALK_BATCH) {
      await Promise.all(
        names.slice(at, at + WALK_BATCH).map((name) => visit(Buffer.concat([prefix, name]), info.dev)),
      );
    }
  };
  for (const dir of dirs) await visit(Buffer.from(path.resolve(dir)), undefined);
  return total;
}

/**
 * Runs one command under the quota: `run` gets the caller's options with a signal that also fires when
 * the quota is exceeded. The result says so in `diskQuota`, also when the command ended by itself over
 * the quota (or was stopped by the file size limit).
 */
export async function underDiskQuota(
  quota: DiskQuota | undefined,
  options: ExecOptions,
  run: (options: ExecOptions) => Promise<ExecResult>,
): Promise<ExecResult> {
  if (!quota) return run(options);
  const atStart = await diskUsage(quota.dirs);
  const over = (used: number) => used > quota.limitBytes && used > atStart;
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let stoppedAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const check = async () => {
    const started = performance.now();
    const used = await diskUsage(quota.dirs);
    if (finished) return;
    if (over(used)) {
      stoppedAt = used;
      stop.abort();
      return;
    }
    const cost = performance.now() - started;
    timer = setTimeout(check, Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, cost * 5)));
  };
  timer = setTimeout(check, MIN_INTERVAL_MS);
  let result: ExecResult;
  try {
    result = await run({ ...options, signal });
  } finally {
    finished = true;
    clearTimeout(timer);
  }
  const used = await diskUsage(quota.dirs);
  // RLIMIT_FSIZE is the quota: a process killed for a write past it tried to fill more than the quota.
  const hitFileLimit = result.exitCode === FILE_SIZE_LIMIT_EXIT;
  if (stoppedAt === undefined && !over(used) && !hitFileLimit) return result;
  return {
    ...result,
    diskQuota: {
      usedBytes: Math.max(stoppedAt ?? 0, used),
      limitBytes: quota.limitBytes,
      stopped: stoppedAt !== undefined || hitFileLimit,
    },
  };
}
