import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { type EntourageEvent, type NewEvent, sequentialIds } from "../core/index.ts";
import { createMemoryEventStore } from "../store/backends/memory.ts";
import type { EventStore } from "../store/index.ts";
import { RunEmitter } from "./emitter.ts";

const RUN = "run_1";

/**
 * The real in-memory store, with every `append` recorded. `failAfter` makes appends after the first N
 * reject (a disk that filled up); `gate` holds every append until it is opened (a slow fsync).
 */
function recordingStore(options: { failAfter?: number; gated?: boolean } = {}) {
  const store = createMemoryEventStore({ ids: sequentialIds(), clock: () => 1_000 });
  const appends: string[][] = [];
  let open: () => void = () => {};
  let gate: Promise<void> = options.gated
    ? new Promise((resolve) => {
        open = resolve;
      })
    : Promise.resolve();
  const wrapped: EventStore = {
    ...store,
    async append(runId, events) {
      appends.push(events.map(label));
      await gate;
      if (options.failAfter !== undefined && appends.length > options.failAfter) {
        throw new Error("disk full: cannot write the log");
      }
      return store.append(runId, events);
    },
  };
  return {
    store: wrapped,
    appends,
    openGate() {
      open();
      gate = Promise.resolve();
    },
    stored: async () => (await store.read(RUN)).map(label),
  };
}

function label(e: NewEvent | EntourageEvent): string {
  if (e.type === "agent.text.delta") return `text[${e.agentId}]:${e.data.text}`;
  if (e.type === "tool.output.delta") return `out[${e.data.callId}/${e.data.stream}]:${e.data.text}`;
  if (e.type === "run.status") return `status:${e.data.status}`;
  return e.type;
}

const status = (s: "running" | "paused" | "waiting"): NewEvent => ({
  type: "run.status",
  data: { status: s },
});
const text = (t: string, agentId = "agt_1"): Extract<NewEvent, { type: "agent.text.delta" }> => ({
  type: "agent.text.delta",
  agentId,
  data: { step: 1, text: t },
});
const output = (
  t: string,
  callId = "call_1",
  stream: "stdout" | "stderr" = "stdout",
): Extract<NewEvent, { type: "tool.output.delta" }> => ({
  type: "tool.output.delta",
  agentId: "agt_1",
  data: { callId, stream, text: t },
});

describe("RunEmitter", () => {
  it("stores events in emit order, with streamed text written before the next event", async () => {
    const { store, stored } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    emitter.post(status("running"));
    emitter.emitDelta(text("Hel"));
    emitter.emitDelta(text("lo"));
    emitter.post(status("waiting"));
    emitter.emitDelta(output("line 1\n"));
    await emitter.emit(status("paused"));
    await emitter.flush();
    assert.deepEqual(await stored(), [
      "status:running",
      "text[agt_1]:Hello",
      "status:waiting",
      "out[call_1/stdout]:line 1\n",
      "status:paused",
    ]);
  });

  it("resolves emit with the stored event, seq assigned by the store", async () => {
    const { store } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    const first = await emitter.emit(status("running"));
    const second = await emitter.emit(status("paused"));
    assert.deepEqual([first.seq, second.seq, second.runId, second.type], [0, 1, RUN, "run.status"]);
  });

  it("coalesces a stream's consecutive deltas into one event and keeps other streams apart", async () => {
    const { store, stored } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    for (const t of ["The ", "quick ", "fox"]) emitter.emitDelta(text(t));
    emitter.emitDelta(text("other agent", "agt_2"));
    emitter.emitDelta(output("a", "call_1", "stdout"));
    emitter.emitDelta(output("b", "call_1", "stdout"));
    emitter.emitDelta(output("c", "call_1", "stderr"));
    emitter.emitDelta(output("d", "call_2", "stderr"));
    await emitter.flush();
    assert.deepEqual(await stored(), [
      "text[agt_1]:The quick fox",
      "text[agt_2]:other agent",
      "out[call_1/stdout]:ab",
      "out[call_1/stderr]:c",
      "out[call_2/stderr]:d",
    ]);
  });

  it("does not let the caller's delta object change after it was handed over", async () => {
    const { store, stored } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    const first = text("one ");
    emitter.emitDelta(first);
    emitter.emitDelta(text("two"));
    await emitter.flush();
    assert.equal(first.data.text, "one ", "merging must not append into the caller's object");
    assert.deepEqual(await stored(), ["text[agt_1]:one two"]);
  });

  it("writes a lone delta after at most 25 ms, so live views do not wait for the next event", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { store, stored } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    emitter.emitDelta(text("streaming"));
    t.mock.timers.tick(24);
    await settle();
    assert.deepEqual(await stored(), [], "held back while the stream may continue");
    t.mock.timers.tick(1);
    await settle();
    assert.deepEqual(await stored(), ["text[agt_1]:streaming"]);
  });

  it("writes the events of one tick in a single append (one transaction)", async () => {
    const { store, appends, stored } = recordingStore();
    const emitter = new RunEmitter(store, RUN);
    emitter.post(status("running"));
    emitter.emitDelta(text("a"));
    emitter.post(status("waiting"));
    const last = emitter.emit(status("paused"));
    await last;
    assert.deepEqual(appends, [["status:running", "text[agt_1]:a", "status:waiting", "status:paused"]]);
    await emitter.emit(status("running"));
    assert.equal(appends.length, 2, "a later tick is a new transaction");
    assert.equal((await stored()).length, 5);
  });

  it("writes events emitted during a slow append after it, in order", async () => {
    const rec = recordingStore({ gated: true });
    const emitter = new RunEmitter(rec.store, RUN);
    const first = emitter.emit(status("running"));
    await settle();
    const second = emitter.emit(status("waiting"));
    const third = emitter.emit(status("paused"));
    await settle();
    assert.deepEqual(rec.appends, [["status:running"]], "the second batch waits for the first");
    rec.openGate();
    await Promise.all([first, second, third]);
    assert.deepEqual(rec.appends, [["status:running"], ["status:waiting", "status:paused"]]);
    assert.deepEqual(await rec.stored(), ["status:running", "status:waiting", "status:paused"]);
  });

  it("resolves flush only once everything emitted, pending deltas included, is stored", async () => {
    const rec = recordingStore({ gated: true });
    const emitter = new RunEmitter(rec.store, RUN);
    emitter.post(status("running"));
    emitter.emitDelta(text("tail"));
    let flushed = false;
    const flush = emitter.flush().then(() => {
      flushed = true;
    });
    await settle();
    assert.equal(flushed, false, "flush must wait for the append");
    assert.deepEqual(await rec.stored(), []);
    rec.openGate();
    await flush;
    assert.deepEqual(await rec.stored(), ["status:running", "text[agt_1]:tail"]);
  });

  it("surfaces a failed write of a posted event at the next emit and at flush", async () => {
    const { store, stored } = recordingStore({ failAfter: 1 });
    const emitter = new RunEmitter(store, RUN);
    await emitter.emit(status("running"));
    emitter.post(status("waiting")); // nobody awaits this one; its append fails
    await settle();
    await assert.rejects(emitter.emit(status("paused")), /disk full/);
    await assert.rejects(emitter.flush(), /disk full/);
    assert.deepEqual(await stored(), ["status:running"]);
  });

  it("surfaces a failed write of a streamed delta at flush", async () => {
    const { store } = recordingStore({ failAfter: 0 });
    const emitter = new RunEmitter(store, RUN);
    emitter.emitDelta(text("lost"));
    await assert.rejects(emitter.flush(), /disk full/);
  });

  it("rejects emit when the batch it was written in failed", async () => {
    const { store } = recordingStore({ failAfter: 0 });
    const emitter = new RunEmitter(store, RUN);
    const unhandled = mock.fn();
    process.on("unhandledRejection", unhandled);
    try {
      emitter.post(status("running"));
      await assert.rejects(emitter.emit(status("paused")), /disk full/);
      await settle();
      assert.equal(unhandled.mock.callCount(), 0, "a posted event's failure is never an unhandled rejection");
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});

/** Lets queued microtasks and already-resolved promise chains run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
