/**
 * One driver per run: the process that drives a run holds its lease in the event store (who: pid, host,
 * what; when: the last heartbeat). Another process may take the lease only once it is stale — its holder
 * on this host is gone, or it stopped heartbeating for longer than the lease's time to live — and every
 * append the driver makes carries the lease's token, so a driver that lost its lease cannot write.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../core/errors.ts";
import { processHost } from "../core/host.ts";
import { randomBytes } from "../core/ids.ts";
import { isTerminal } from "../core/state.ts";
import type { RunStatus } from "../core/vocabulary.ts";

/** Who drives a run. */
export interface LeaseHolder {
  pid: number;
  host: string;
  /** What drives it, for people: "entourage run", "entourage serve"… */
  label: string;
}

export interface RunLease {
  runId: string;
  /** Secret of the holder: appends and heartbeats carry it. */
  token: string;
  holder: LeaseHolder;
  /** Epoch ms. */
  acquiredAt: number;
  heartbeatAt: number;
  /** The holder renews well within this; a lease not renewed for longer is stale. */
  ttlMs: number;
}

/** What `acquireLease` answers: the lease (and whose stale lease it replaced), or who holds it. */
export type LeaseAttempt =
  | { ok: true; lease: RunLease; tookOverFrom?: RunLease }
  | { ok: false; heldBy: RunLease };

/** The public view of a lease (no token): what `runs`, the API and errors show. */
export type DriverInfo = Omit<RunLease, "token" | "runId">;

export const DEFAULT_LEASE_TTL_MS = 30_000;

/** ENTOURAGE_LEASE_TTL_SECONDS, else 30 s. */
export function leaseTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ENTOURAGE_LEASE_TTL_SECONDS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_LEASE_TTL_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) {
    throw new UserError(
      "invalid_lease_ttl",
      `ENTOURAGE_LEASE_TTL_SECONDS is "${raw}"; give a number of seconds from 1 to 3600.`,
    );
  }
  return seconds * 1000;
}

/** This process, as a lease holder. */
export function thisProcess(label: string): LeaseHolder {
  return { pid: process.pid, host: processHost(), label };
}

/**
 * A lease is stale when its holder stopped heartbeating for longer than its time to live, or when the
 * holder ran on this host and its process is gone (a kill -9 is seen at once, not after the TTL).
 */
export function leaseIsStale(
  lease: Pick<RunLease, "holder" | "heartbeatAt" | "ttlMs">,
  now: number,
): boolean {
  if (now - lease.heartbeatAt > lease.ttlMs) return true;
  if (lease.holder.host !== processHost()) return false;
  return !processAlive(lease.holder.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
  return !isZombie(pid);
}

/** A killed process its parent has not reaped yet still answers kill(pid, 0); on Linux /proc tells. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

export function driverInfo(lease: RunLease): DriverInfo {
  const { token: _token, runId: _runId, ...info } = lease;
  return info;
}

/** "process 4242 on devbox (entourage run), last heartbeat 3 s ago" */
export function describeDriver(driver: DriverInfo, now = Date.now()): string {
  const ago = Math.max(0, Math.round((now - driver.heartbeatAt) / 1000));
  return `process ${driver.holder.pid} on ${driver.holder.host} (${driver.holder.label}), last heartbeat ${ago} s ago`;
}

/** The refusal to drive (or rewind) a run someone else drives. */
export function runDrivenError(runId: string, heldBy: DriverInfo, doing: string): UserError {
  return new UserError(
    "run_live",
    `Run ${runId} is being driven by ${describeDriver(heldBy)}; one process drives a run at a time, so it was not ${doing}. ` +
      `Watch or steer it with: entourage attach ${runId}; or stop that process (Ctrl-C there), then try again.`,
  );
}

/** The lease a writer lost to another process (it went stale, e.g. the machine slept): it must stop. */
export function leaseLostError(runId: string, now?: DriverInfo): UserError {
  return new UserError(
    "lease_lost",
    `This process no longer drives run ${runId}: ${now ? `${describeDriver(now)} took it over` : "its lease was released or taken over"}. ` +
      "Nothing more was written; see the run with: entourage show " +
      runId,
  );
}

/**
 * Statuses only a live driver keeps a run in. Not `queued`: a queued run waits for its driver (a worker
 * of a team deployment), it did not lose one.
 */
const DRIVEN_STATUSES: ReadonlySet<RunStatus> = new Set(["running", "waiting"]);

/** What a listed run says of its driver (RunSummary's `driver` and `interrupted`). */
export interface DriverState {
  driver?: DriverInfo;
  interrupted?: true;
}

/** A run in a driven status (not finished, not paused) with no live driver: its driver died. */
function isInterrupted(status: RunStatus, lease: RunLease | undefined, now: number): boolean {
  return DRIVEN_STATUSES.has(status) && (!lease || leaseIsStale(lease, now));
}

/** A listed run with its driver and, when that driver is gone, `interrupted`. */
export function withDriver<T extends { status: RunStatus } & DriverState>(
  summary: T,
  lease: RunLease | undefined,
  now: number,
): T {
  const row: T = lease ? { ...summary, driver: driverInfo(lease) } : { ...summary };
  if (isInterrupted(summary.status, lease, now)) row.interrupted = true;
  return row;
}

/**
 * A listed run (withDriver's row) has a live process driving it, which a person can steer (through the
 * log when it is another process): not ended, and its driver's lease is fresh.
 */
export function drivenLive(row: { status: RunStatus } & DriverState, now: number): boolean {
  return row.driver !== undefined && !isTerminal(row.status) && !leaseIsStale(row.driver, now);
}

/** A new lease's token: what the holder proves itself with. */
export function newLeaseToken(): string {
  return randomBytes(16).toString("hex");
}

/** The outcome of an acquisition given the current lease (shared by every backend, inside its lock). */
export function decideAcquire(
  runId: string,
  current: RunLease | undefined,
  holder: LeaseHolder,
  ttlMs: number,
  now: number,
): LeaseAttempt {
  if (current && !leaseIsStale(current, now)) return { ok: false, heldBy: current };
  const lease: RunLease = { runId, token: newLeaseToken(), holder, acquiredAt: now, heartbeatAt: now, ttlMs };
  return current ? { ok: true, lease, tookOverFrom: current } : { ok: true, lease };
}

/** A run's live driver and whether it is interrupted, as `listRuns` reports them, for one run. */
export async function runDriver(
  store: { readLease(runId: string): Promise<RunLease | undefined> },
  runId: string,
  status: RunStatus,
): Promise<DriverState> {
  const lease = await store.readLease(runId);
  const now = Date.now();
  if (isInterrupted(status, lease, now)) return { interrupted: true };
  return lease && !leaseIsStale(lease, now) ? { driver: driverInfo(lease) } : {};
}
