import { ApiError, api } from "../lib/api.ts";
import { followStream, type StreamStatus } from "../lib/sse.ts";
import type { EntourageEvent, RunDetail } from "../types.ts";
import { RunModel } from "./run-model.ts";

/** Events that change what the server says about the run as a whole (who drives it, its approvals). */
const DETAIL_EVENTS = new Set([
  "run.created",
  "run.status",
  "run.finished",
  "run.attached",
  "run.paused",
  "run.resumed",
  "approval.requested",
  "approval.resolved",
]);

/**
 * One run followed live: its SSE stream (history, then live; resumed with Last-Event-ID after any
 * disconnect), folded into a `RunModel`, and redrawn at most once per frame however fast events come.
 */
export class LiveRun {
  readonly runId: string;
  model: RunModel;
  detail: RunDetail | undefined;
  status: StreamStatus = { state: "connecting", attempt: 1 };
  error: string | undefined;
  /** Bumped on every change the page should redraw for. */
  tick = 0;

  #listeners = new Set<() => void>();
  #buffer: EntourageEvent[] = [];
  #flushScheduled = false;
  #stop: (() => void) | undefined;
  #detailTimer: ReturnType<typeof setTimeout> | undefined;
  #detailInFlight = false;
  #detailAgain = false;

  constructor(runId: string) {
    this.runId = runId;
    this.model = new RunModel(runId);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getTick = (): number => this.tick;

  #changed(): void {
    this.tick += 1;
    for (const l of this.#listeners) l();
  }

  start(): void {
    if (this.#stop) return;
    this.#stop = followStream<EntourageEvent>({
      url: `/runs/${encodeURIComponent(this.runId)}/stream`,
      lastId: this.model.lastSeq >= 0 ? String(this.model.lastSeq) : undefined,
      parse: (m) => {
        try {
          return JSON.parse(m.data) as EntourageEvent;
        } catch {
          return undefined;
        }
      },
      onMessages: (events) => {
        for (const e of events) this.#buffer.push(e);
        this.#scheduleFlush();
      },
      onConnect: (reconnect) => {
        if (reconnect) this.refreshDetail();
      },
      onStatus: (status) => {
        this.status = status;
        if (status.state === "failed") this.error = `The run's event stream failed (${status.reason}).`;
        this.#changed();
      },
      isFatal: (status) => status === 404 || status === 400,
    });
    this.refreshDetail();
  }

  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
    clearTimeout(this.#detailTimer);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    let done = false;
    const flush = () => {
      if (done) return;
      done = true;
      this.#flushScheduled = false;
      this.#flush();
    };
    // A frame when the page is visible; a timer too, since hidden tabs get no frames.
    requestAnimationFrame(flush);
    setTimeout(flush, 50);
  }

  #flush(): void {
    const batch = this.#buffer;
    this.#buffer = [];
    if (this.model.apply(batch) === 0) return;
    if (batch.some((e) => DETAIL_EVENTS.has(e.type))) this.refreshDetail();
    this.#changed();
  }

  /** Re-reads GET /runs/:id (is the run driven here, what approvals wait); coalesced. */
  refreshDetail(): void {
    if (this.#detailTimer) return;
    this.#detailTimer = setTimeout(async () => {
      this.#detailTimer = undefined;
      if (this.#detailInFlight) {
        this.#detailAgain = true;
        return;
      }
      this.#detailInFlight = true;
      try {
        this.detail = await api.getRun(this.runId);
        this.error = undefined;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404)
          this.error = `No run ${this.runId} on this server.`;
      } finally {
        this.#detailInFlight = false;
        this.#changed();
        if (this.#detailAgain) {
          this.#detailAgain = false;
          this.refreshDetail();
        }
      }
    }, 100);
  }
}
