import {
  type Clock,
  EntourageError,
  type EntourageEvent,
  type IdGenerator,
  type NewEvent,
  newId,
  systemClock,
} from "../../core/index.ts";
import { checkLimit, checkReadOptions, checkRunId } from "../check-arguments.ts";
import {
  type AppendOptions,
  type EventStore,
  type ListRunsOptions,
  type RunSummary,
  statusesOf,
} from "../event-store.ts";
import { decideAcquire, leaseLostError, type RunLease, withDriver } from "../lease.ts";
import { type ListenerErrorHandler, ListenerSet } from "../listeners.ts";
import { compareRunsNewestFirst, foldRunSummary } from "../run-summary.ts";
import { assignSeqs, stampEvents } from "../stamp-events.ts";

export interface MemoryEventStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
  /** Called when a listener throws; default: print to stderr. */
  onError?: ListenerErrorHandler;
}

/**
 * An event store that lives and dies with the process: for tests, demos and `--no-persist`. Behaves
 * like the SQLite store (same validation, seq, summaries, delivery order), minus durability.
 */
export function createMemoryEventStore(options: MemoryEventStoreOptions = {}): EventStore {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? newId;
  const logs = new Map<string, EntourageEvent[]>();
  const runs = new Map<string, RunSummary>();
  const listeners = new ListenerSet(options.onError);
  const leases = new Map<string, RunLease>();
  const holding = (lease: RunLease) => leases.get(lease.runId)?.token === lease.token;
  let position = 0;
  let closed = false;

  const open = () => {
    if (closed) throw new EntourageError("store_closed", "The in-memory event store is closed.");
  };

  return {
    async append(runId: string, events: readonly NewEvent[], appendOptions: AppendOptions = {}) {
      open();
      checkRunId(runId);
      if (events.length === 0) return [];
      const token = appendOptions.leaseToken;
      if (token !== undefined && leases.get(runId)?.token !== token) throw leaseLostError(runId);
      const stamped = stampEvents(runId, events, { clock, ids });
      const log = logs.get(runId) ?? [];
      assignSeqs(stamped, log.length);
      const appended = stamped.map((s) => s.event);
      // The log keeps its own copies so callers mutating returned or delivered events cannot rewrite history.
      for (const event of appended) log.push(structuredClone(event));
      logs.set(runId, log);
      runs.set(runId, foldRunSummary(runs.get(runId), runId, appended));
      const first = position + 1;
      position += appended.length;
      listeners.publish(appended.map((event, i) => ({ event, pos: first + i })));
      return appended;
    },

    async read(runId, readOptions = {}) {
      open();
      const { fromSeq, limit } = checkReadOptions(readOptions);
      const log = logs.get(runId) ?? [];
      const end = limit === undefined ? log.length : Math.min(log.length, fromSeq + limit);
      return log.slice(fromSeq, end).map((event) => structuredClone(event));
    },

    subscribe(runId, listener) {
      open();
      return listeners.add(runId, listener, position);
    },

    async sync() {
      open();
    },

    async listRuns(listOptions: ListRunsOptions = {}) {
      open();
      const limit = checkLimit(listOptions.limit);
      const statuses = statusesOf(listOptions.status);
      const rows = [...runs.values()]
        .filter((run) => statuses === undefined || statuses.includes(run.status))
        .sort(compareRunsNewestFirst);
      const now = clock();
      return (limit === undefined ? rows : rows.slice(0, limit)).map((row) =>
        withDriver(row, leases.get(row.runId), now),
      );
    },

    async nextSeq(runId) {
      open();
      return logs.get(runId)?.length ?? 0;
    },

    async acquireLease(runId, holder, ttlMs) {
      open();
      checkRunId(runId);
      const attempt = decideAcquire(runId, leases.get(runId), holder, ttlMs, clock());
      if (attempt.ok) leases.set(runId, attempt.lease);
      return structuredClone(attempt);
    },

    async renewLease(lease) {
      open();
      if (!holding(lease)) throw leaseLostError(lease.runId, leases.get(lease.runId));
      const renewed = { ...lease, heartbeatAt: clock() };
      leases.set(lease.runId, renewed);
      return { ...renewed };
    },

    async releaseLease(lease) {
      open();
      if (holding(lease)) leases.delete(lease.runId);
    },

    async readLease(runId) {
      open();
      const lease = leases.get(runId);
      return lease && structuredClone(lease);
    },

    async close() {
      closed = true;
    },
  };
}
