import { type EntourageEvent, emptyRunState, type RunState, reduceRun } from "../core/index.ts";
import type { EventStore } from "../store/index.ts";

/**
 * Folded run states, kept per run and brought up to date by folding only the events appended since the
 * last request. The log is append-only, so this is always exactly `foldRun` of the whole log: a cache of
 * the fold, never a second source of truth.
 *
 * A subscription to every run tells which cached states have new events, so an unchanged run is answered
 * without touching the store. Appends by this process are seen at once; another process's as soon as the
 * store's cross-process tail delivers them (SQLite: within its poll interval).
 */
export class RunStates {
  readonly #store: EventStore;
  readonly #max: number;
  readonly #cache = new Map<string, RunState>();
  /** The newest seq the subscription has seen per run. */
  readonly #latest = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;

  constructor(store: EventStore, max = 256) {
    this.#store = store;
    this.#max = max;
  }

  /**
   * The run's current state, or undefined for an unknown run. The object is shared with later calls:
   * read or serialise it before the next `await`, never mutate it.
   */
  async get(runId: string): Promise<RunState | undefined> {
    // Subscribe before the first read: an event appended after the read is then always noticed.
    this.#unsubscribe ??= this.#store.subscribe("*", (event) => {
      if (this.#cache.has(event.runId)) this.#latest.set(event.runId, event.seq);
    });
    const cached = this.#cache.get(runId);
    if (cached && (this.#latest.get(runId) ?? -1) <= cached.lastSeq) return cached;
    const state = cached ?? emptyRunState(runId);
    const fresh: EntourageEvent[] = await this.#store.read(runId, { fromSeq: state.lastSeq + 1 });
    if (!cached && fresh.length === 0) return undefined;
    // Two overlapping calls may read the same new events: fold each seq once.
    for (const event of fresh) if (event.seq > state.lastSeq) reduceRun(state, event);
    // Most recently used last, so the first key is the one to evict.
    this.#cache.delete(runId);
    this.#cache.set(runId, state);
    if (this.#cache.size > this.#max) {
      const oldest = this.#cache.keys().next().value!;
      this.#cache.delete(oldest);
      this.#latest.delete(oldest);
    }
    return state;
  }

  /** Stops following the store. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}
