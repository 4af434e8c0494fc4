import type { EventStore } from "./event-store.ts";
import { leaseIsStale, leaseTtlMs, type RunLease, runDrivenError, thisProcess } from "./lease.ts";

/** A run's lease held by this process, heartbeating until released. */
export interface HeldLease {
  runId: string;
  /** The store as the driver writes to it: every append carries the lease's token. */
  store: EventStore;
  /** Aborted (with a `lease_lost` error as its reason) when a heartbeat finds the lease gone. */
  lost: AbortSignal;
  /** The stale lease this one replaced: a driver that died (or went silent) before. */
  tookOverFrom?: RunLease;
  /** Stops the heartbeat and frees the run. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes `runId`'s lease for this process or throws `run_live` naming who holds it (`doing` says what was
 * refused: "resumed", "rewound"…). The lease is renewed every third of its time to live; an unexpected
 * store error on renewal is retried at the next beat, a lost lease aborts `lost`.
 */
export async function holdLease(
  store: EventStore,
  runId: string,
  label: string,
  doing: string,
): Promise<HeldLease> {
  const ttlMs = leaseTtlMs();
  const attempt = await store.acquireLease(runId, thisProcess(label), ttlMs);
  if (!attempt.ok) throw runDrivenError(runId, attempt.heldBy, doing);
  let lease = attempt.lease;
  const lost = new AbortController();
  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = store.renewLease(lease).then(
      (renewed) => {
        lease = renewed;
      },
      (error: unknown) => {
        if ((error as { code?: string }).code === "lease_lost") {
          clearInterval(timer);
          lost.abort(error);
        }
        // Anything else (store busy, closed at exit): the next beat tries again.
      },
    );
  }, ttlMs / 3);
  timer.unref();
  let released = false;
  return {
    runId,
    store: fencedStore(store, runId, lease.token),
    lost: lost.signal,
    tookOverFrom: attempt.tookOverFrom,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await beating;
      if (!lost.signal.aborted) await store.releaseLease(lease).catch(() => {});
    },
  };
}

/** `store`, with every append to `leased` made only while the lease (`token`) holds it. */
function fencedStore(store: EventStore, leased: string, token: string): EventStore {
  return {
    append: (runId, events, options) =>
      store.append(runId, events, runId === leased ? { ...options, leaseToken: token } : options),
    read: (runId, options) => store.read(runId, options),
    subscribe: (runId, listener) => store.subscribe(runId, listener),
    listRuns: (options) => store.listRuns(options),
    sync: () => store.sync(),
    nextSeq: (runId) => store.nextSeq(runId),
    acquireLease: (runId, holder, ttlMs) => store.acquireLease(runId, holder, ttlMs),
    renewLease: (lease) => store.renewLease(lease),
    releaseLease: (lease) => store.releaseLease(lease),
    readLease: (runId) => store.readLease(runId),
    close: () => store.close(),
  };
}

/** The live driver of a run (a lease that is not stale), if any. */
export async function liveDriver(store: EventStore, runId: string): Promise<RunLease | undefined> {
  const lease = await store.readLease(runId);
  return lease && !leaseIsStale(lease, Date.now()) ? lease : undefined;
}
