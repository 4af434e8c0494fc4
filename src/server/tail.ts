import type { EntourageEvent } from "../core/index.ts";
import type { EventStore } from "../store/index.ts";

export interface TailOptions {
  /** Events read from the store per page while catching up. */
  pageSize?: number;
  /**
   * Live events held for a slow reader before the tail gives up holding them and catches up from the
   * store instead (the store is the source; the buffer only saves reads).
   */
  maxBuffered?: number;
  /**
   * When aborted, the tail ends as soon as it has delivered every event the store holds (a server
   * shutting down lets its streams finish the run's last events instead of cutting them).
   */
  drain?: AbortSignal;
}

/**
 * A run's events from `fromSeq` on, then live, each exactly once and in seq order, until `signal` aborts.
 *
 * The order of operations is what makes it gap-free: subscribe first (buffering), then read the store,
 * then drain the buffer skipping what the read already returned (dedupe by seq). An event appended while
 * the read is in flight is in the buffer, the read, or both — never in neither. If the buffer ever shows
 * a gap or overflows, the tail reads the store again from the next seq it owes.
 */
export async function* tailRun(
  store: EventStore,
  runId: string,
  fromSeq: number,
  signal: AbortSignal,
  options: TailOptions = {},
): AsyncGenerator<EntourageEvent> {
  const pageSize = options.pageSize ?? 500;
  const maxBuffered = options.maxBuffered ?? 10_000;
  let buffer: EntourageEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = store.subscribe(runId, (event) => {
    if (buffer.length >= maxBuffered) overflowed = true;
    else buffer.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  options.drain?.addEventListener("abort", onAbort, { once: true });
  let next = fromSeq;
  try {
    for (;;) {
      // Catch up from the store.
      for (;;) {
        const page = await store.read(runId, { fromSeq: next, limit: pageSize });
        for (const event of page) {
          if (signal.aborted) return;
          yield event;
          next = event.seq + 1;
        }
        if (page.length < pageSize) break;
      }
      // Then live, from the buffer, until it shows a gap or overflows.
      let resync = false;
      while (!resync) {
        if (signal.aborted) return;
        if (overflowed) {
          overflowed = false;
          buffer = [];
          resync = true;
          break;
        }
        if (buffer.length === 0) {
          if (options.drain?.aborted) {
            // Deliver what the store holds beyond the buffer, then end.
            for (const event of await store.read(runId, { fromSeq: next })) {
              if (signal.aborted) return;
              yield event;
              next = event.seq + 1;
            }
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        const batch = buffer;
        buffer = [];
        for (const event of batch) {
          if (event.seq < next) continue;
          if (event.seq > next) {
            resync = true;
            break;
          }
          if (signal.aborted) return;
          yield event;
          next = event.seq + 1;
        }
      }
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
    options.drain?.removeEventListener("abort", onAbort);
  }
}

/**
 * Every run's events appended from now on, in append order, until `signal` aborts. A reader too slow to
 * keep up (more than `maxBuffered` events behind) is ended rather than buffered without bound.
 */
export async function* tailAll(
  store: EventStore,
  signal: AbortSignal,
  options: Pick<TailOptions, "maxBuffered" | "drain"> = {},
): AsyncGenerator<EntourageEvent> {
  const maxBuffered = options.maxBuffered ?? 10_000;
  let buffer: EntourageEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = store.subscribe("*", (event) => {
    if (buffer.length >= maxBuffered) overflowed = true;
    else buffer.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  options.drain?.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal.aborted && !overflowed) {
      if (buffer.length === 0) {
        if (options.drain?.aborted) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const batch = buffer;
      buffer = [];
      for (const event of batch) {
        if (signal.aborted) return;
        yield event;
      }
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
    options.drain?.removeEventListener("abort", onAbort);
  }
}
