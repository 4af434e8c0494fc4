import type { EntourageEvent, NewEvent } from "../core/index.ts";
import type { EventStore } from "../store/index.ts";

type DeltaEvent = Extract<
  NewEvent,
  { type: "agent.text.delta" | "agent.reasoning.delta" | "tool.output.delta" }
>;

/** How long streamed text may sit in memory before it is written; bounds the live views' latency. */
const DELTA_FLUSH_MS = 25;
/**
 * How long a `post`ed event may wait for the next `emit` to be written with it: one append (one
 * transaction, one fsync) per agent step instead of three, while the live views lag by at most this.
 */
const POST_FLUSH_MS = 10;

/**
 * Writes a run's events to the store with group commit: events emitted in the same tick (or while the
 * previous write is in flight) share one append, and `emit` resolves once its event is durable — the
 * engine awaits that before it acts. `post`ed events and deltas are appended without waiting for the
 * disk (`durable: false`): they are durable with the next `emit`, written after them, or at `flush`.
 * Streaming deltas (model text, command output) are coalesced per stream for up to 25 ms so a fast
 * stream does not cost one transaction per token; they are always written before the next other event,
 * so the order of the log is the order things happened.
 */
export class RunEmitter {
  readonly runId: string;
  private readonly store: EventStore;
  private queue: {
    event: NewEvent;
    durable: boolean;
    resolve: (e: EntourageEvent) => void;
    reject: (e: unknown) => void;
  }[] = [];
  /** Something was appended with `durable: false` since the last durable append. */
  private unsynced = false;
  private scheduled = false;
  private postTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private delta: DeltaEvent | undefined;
  private deltaTimer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private last: Promise<unknown> = Promise.resolve();
  private readonly writeListeners: ((event: EntourageEvent) => void)[] = [];

  constructor(store: EventStore, runId: string) {
    this.store = store;
    this.runId = runId;
  }

  /** Queues an event; resolves with the stored event (seq assigned) once it is durable. */
  emit(event: NewEvent): Promise<EntourageEvent> {
    if (this.failure) return Promise.reject(this.failure);
    this.materializeDelta();
    return this.enqueue(event, true);
  }

  /**
   * Queues an event without waiting for it. It is still written in order, so it is durable before any
   * later event that is awaited; a write failure surfaces at the next `emit` or `flush`.
   */
  post(event: NewEvent): void {
    if (this.failure) return;
    this.materializeDelta();
    this.enqueue(event, false).catch(() => {});
  }

  /** Streams a delta; merged with the previous one when it continues the same stream. Never awaited. */
  emitDelta(event: DeltaEvent): void {
    const open = this.delta;
    if (open && sameStream(open, event)) {
      open.data.text += event.data.text;
      return;
    }
    this.materializeDelta();
    this.delta = structuredClone(event);
    this.deltaTimer = setTimeout(() => {
      this.materializeDelta();
      this.schedule();
    }, DELTA_FLUSH_MS);
  }

  /** Calls `listener` with every event this emitter writes, in order, once it is stored. */
  onWrite(listener: (event: EntourageEvent) => void): void {
    this.writeListeners.push(listener);
  }

  /** Resolves when everything emitted so far is durable; rejects if a write failed. */
  async flush(): Promise<void> {
    this.materializeDelta();
    this.schedule();
    await this.last;
    if (this.failure) throw this.failure;
    if (this.unsynced) {
      this.unsynced = false;
      await this.store.sync();
    }
  }

  private materializeDelta(): void {
    if (this.deltaTimer) clearTimeout(this.deltaTimer);
    this.deltaTimer = undefined;
    const open = this.delta;
    this.delta = undefined;
    if (open) this.enqueue(open, false).catch(() => {}); // a failure surfaces at the next emit/flush
  }

  private enqueue(event: NewEvent, durable: boolean): Promise<EntourageEvent> {
    const promise = new Promise<EntourageEvent>((resolve, reject) => {
      this.queue.push({ event, durable, resolve, reject });
    });
    this.last = promise.catch(() => {});
    if (durable) this.schedule();
    else this.postTimer ??= setTimeout(() => this.schedule(), POST_FLUSH_MS);
    return promise;
  }

  /** Writes what is queued (and whatever joins it in this tick) after the write in flight. */
  private schedule(): void {
    if (this.postTimer) clearTimeout(this.postTimer);
    this.postTimer = undefined;
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.writing = this.writing.then(() => this.write());
    });
  }

  private async write(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const durable = batch.some((b) => b.durable);
    try {
      const stored = await this.store.append(
        this.runId,
        batch.map((b) => b.event),
        durable ? {} : { durable: false },
      );
      this.unsynced = !durable;
      for (const event of stored) for (const listener of this.writeListeners) listener(event);
      batch.forEach((b, i) => {
        b.resolve(stored[i]!);
      });
    } catch (error) {
      this.failure = error;
      for (const b of batch) b.reject(error);
    }
  }
}

function sameStream(a: DeltaEvent, b: DeltaEvent): boolean {
  if (a.type !== b.type || a.agentId !== b.agentId) return false;
  if (a.type === "tool.output.delta" && b.type === "tool.output.delta") {
    return a.data.callId === b.data.callId && a.data.stream === b.data.stream;
  }
  return true;
}
