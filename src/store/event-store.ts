import type { EntourageEvent, NewEvent, RunStatus, VerificationStatus } from "../core/index.ts";
import type { DriverState, LeaseAttempt, LeaseHolder, RunLease } from "./lease.ts";

/**
 * One row of `listRuns`: what the runs list needs without folding every event. `driver`: the process whose lease drives the run, live or stale. `interrupted`: not
 * finished, not paused, and no live process drives it (its driver died) — derived when listed, never stored.
 */
export interface RunSummary extends DriverState {
  runId: string;
  task: string;
  repo: string;
  status: RunStatus;
  createdAt: number;
  updatedAt: number;
  /** Number of events (last seq + 1). */
  events: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** A cost is known only when every model step had a price. */
  costKnown: boolean;
  /** The orchestrator's verdict on the run's change; absent when it changed nothing. */
  verification?: VerificationStatus;
}

export interface ListRunsOptions {
  /** Only runs in this status, or in any of these. */
  status?: RunStatus | readonly RunStatus[];
  limit?: number;
}

/** The statuses a `ListRunsOptions.status` asks for, as a list; undefined for every status. */
export function statusesOf(status: ListRunsOptions["status"]): readonly RunStatus[] | undefined {
  return status === undefined ? undefined : typeof status === "string" ? [status] : status;
}

/**
 * The durable, append-only log of every run. `append` resolves only once the events are durable, so the
 * engine can act on them (unless asked for `durable: false`). `seq` is assigned by the store: gap-free per
 * run, starting at 0. Concurrent appends may share one transaction and one fsync (group commit); each
 * still succeeds or fails on its own.
 */
export interface EventStore {
  /**
   * Appends events to a run atomically, in order; returns them with id/seq/time/v filled in. With
   * `leaseToken` (the run's driver), nothing is written unless that lease still holds the run (`lease_lost`).
   */
  append(runId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<EntourageEvent[]>;
  /** Events of a run with `seq >= fromSeq`, in order; at most `limit`. */
  read(runId: string, options?: { fromSeq?: number; limit?: number }): Promise<EntourageEvent[]>;
  /**
   * Live tail: calls `listener` with every event appended to `runId` (or to any run when `runId` is
   * "*") after the call, in order. Returns the unsubscribe function. Combine with `read` to resume from a seq.
   */
  subscribe(runId: string | "*", listener: (event: EntourageEvent) => void): () => void;
  listRuns(options?: ListRunsOptions): Promise<RunSummary[]>;
  /** Resolves once every append that resolved before the call is durable (`durable: false` ones included). */
  sync(): Promise<void>;
  /** Next seq the run would get (= number of events); 0 for an unknown run. */
  nextSeq(runId: string): Promise<number>;
  /**
   * Takes the run's lease for `holder` when nobody holds it or the lease is stale (`leaseIsStale`), atomically
   * across processes; otherwise answers who holds it.
   */
  acquireLease(runId: string, holder: LeaseHolder, ttlMs: number): Promise<LeaseAttempt>;
  /** Moves the heartbeat to now; throws `lease_lost` when the lease no longer holds the run. */
  renewLease(lease: RunLease): Promise<RunLease>;
  /** Gives the run up (a no-op when the lease was already lost). */
  releaseLease(lease: RunLease): Promise<void>;
  /** The run's lease, live or stale. */
  readLease(runId: string): Promise<RunLease | undefined>;
  close(): Promise<void>;
}

export interface AppendOptions {
  /** Write only while this lease holds the run. */
  leaseToken?: string;
  /**
   * `false`: resolve once committed — readable, and surviving a crash of this process — without waiting
   * for the disk; the events become durable with the next durable append (the log is written in order)
   * or `sync()`. For events nothing acts on. Default true. A backend whose every commit is durable
   * ignores it.
   */
  durable?: boolean;
}
