import type { EntourageEvent } from "../core/index.ts";

export type EventListener = (event: EntourageEvent) => void;

/**
 * Called when a listener throws (with the event it was given) or when delivery itself fails (reading
 * another process's events); the error never reaches the appender or the other listeners.
 */
export type ListenerErrorHandler = (error: unknown, event?: EntourageEvent) => void;

/** An event with its position in the store's global append order. */
export interface Positioned {
  event: EntourageEvent;
  pos: number;
}

interface Entry {
  listener: EventListener;
  /** Only events at a later position reach this listener: "appended after the subscribe call". */
  after: number;
  active: boolean;
}

export const reportListenerError: ListenerErrorHandler = (error, event) => {
  const where = event ? ` on ${event.type} (run ${event.runId}, seq ${event.seq})` : "";
  console.error(`entourage: delivering events failed${where}:`, error);
};

/**
 * The subscribers of one store. Delivery is serialised through one queue: a listener that appends
 * (and so publishes) while being called gets its events queued behind the batch being delivered, so
 * every listener sees every run in seq order, each event once.
 */
export class ListenerSet {
  readonly #byScope = new Map<string, Set<Entry>>();
  readonly #queue: Positioned[] = [];
  readonly #onError: ListenerErrorHandler;
  #draining = false;
  #size = 0;

  constructor(onError: ListenerErrorHandler = reportListenerError) {
    this.#onError = onError;
  }

  /** Number of active listeners. */
  get size(): number {
    return this.#size;
  }

  /** True if some listener takes every run ("*"). */
  get wantsAll(): boolean {
    return (this.#byScope.get("*")?.size ?? 0) > 0;
  }

  /** The runs some listener follows by id (not "*"). */
  scopes(): string[] {
    return [...this.#byScope.keys()].filter((scope) => scope !== "*");
  }

  /** True if some listener would receive events of this run. */
  wants(runId: string): boolean {
    return this.wantsAll || (this.#byScope.get(runId)?.size ?? 0) > 0;
  }

  /** Adds a listener for `scope` (a run id or "*"); returns its idempotent remove function. */
  add(scope: string, listener: EventListener, after: number): () => void {
    const entry: Entry = { listener, after, active: true };
    let set = this.#byScope.get(scope);
    if (!set) {
      set = new Set();
      this.#byScope.set(scope, set);
    }
    set.add(entry);
    this.#size++;
    return () => {
      if (!entry.active) return;
      entry.active = false;
      this.#size--;
      const current = this.#byScope.get(scope);
      current?.delete(entry);
      if (current?.size === 0) this.#byScope.delete(scope);
    };
  }

  /** Delivers events in the given order (which must be append order) to the listeners that want them. */
  publish(items: readonly Positioned[]): void {
    if (this.#size === 0) return;
    for (const item of items) this.#queue.push(item);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let i = 0; i < this.#queue.length; i++) this.#deliver(this.#queue[i] as Positioned);
    } finally {
      this.#queue.length = 0;
      this.#draining = false;
    }
  }

  #deliver({ event, pos }: Positioned): void {
    const own = this.#byScope.get(event.runId);
    const all = this.#byScope.get("*");
    if (!own && !all) return;
    // Snapshot: a listener added while delivering has a later `after`; one removed is skipped by `active`.
    const entries = [...(own ?? []), ...(all ?? [])];
    for (const entry of entries) {
      if (!entry.active || pos <= entry.after) continue;
      try {
        entry.listener(event);
      } catch (error) {
        this.#onError(error, event);
      }
    }
  }
}
