import { type EntourageEvent, emptyRunState, type RunState, reduceRun } from "../core/index.ts";
import type { EventStore } from "../store/index.ts";

/**
 * Folded run states, kept per run and brought up to date by folding only the events appended since the
 * last request. The log is append-only, so this is always exactly `foldRun` of the whole log: a cache of
 * the fold, never a second source of truth.
 */
export class RunStates {
  readonly #store: EventStore;
  readonly #max: number;
  readonly #cache = new Map<string, RunState>();

  constructor(store: EventStore, max = 256) {
    this.#store = store;
    this.#max = max;
  }

  /**
   * The run's current state, or undefined for an unknown run. The object is shared with later calls:
   * read or serialise it before the next `await`, never mutate it.
   */
  async get(runId: string): Promise<RunState | undefined> {
    const cached = this.#cache.get(runId);
    const state = cached ?? emptyRunState(runId);
    const fresh: EntourageEvent[] = await this.#store.read(runId, { fromSeq: state.lastSeq + 1 });
    if (!cached && fresh.length === 0) return undefined;
    // Two overlapping calls may read the same new events: fold each seq once.
    for (const event of fresh) if (event.seq > state.lastSeq) reduceRun(state, event);
    // Most recently used last, so the first key is the one to evict.
    this.#cache.delete(runId);
    this.#cache.set(runId, state);
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    return state;
  }
}
