import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { EntourageEvent, NewEvent } from "../../src/core/index.ts";
import { listen, tailRun } from "../../src/server/index.ts";
import { createMemoryEventStore, type EventStore, openSqliteEventStore } from "../../src/store/index.ts";
import { readSse } from "../helpers/api.ts";
import { createdData, createHarness, removeDir } from "./harness.ts";

const delta = (i: number): NewEvent => ({
  type: "agent.text.delta",
  agentId: "agent_1",
  data: { step: 1, text: `t${i} ` },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends `total` events to `runId` in random batches with pauses, like a run streaming. */
async function appendInBursts(store: EventStore, runId: string, total: number, seed = 7): Promise<void> {
  let x = seed;
  const rand = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  for (let i = 0; i < total; ) {
    const n = Math.min(total - i, 1 + Math.floor(rand() * 12));
    await store.append(
      runId,
      Array.from({ length: n }, (_, j) => delta(i + j)),
    );
    i += n;
    if (rand() < 0.5) await sleep(Math.floor(rand() * 3));
  }
}

async function collect(
  store: EventStore,
  runId: string,
  from: number,
  lastSeq: number,
  options: { maxBuffered?: number; slow?: boolean } = {},
): Promise<number[]> {
  const abort = new AbortController();
  const seqs: number[] = [];
  for await (const event of tailRun(store, runId, from, abort.signal, {
    pageSize: 16,
    maxBuffered: options.maxBuffered,
  })) {
    seqs.push(event.seq);
    if (options.slow && event.seq % 7 === 0) await sleep(1);
    if (event.seq >= lastSeq) break;
  }
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("tailRun: history then live, each event exactly once", () => {
  it("has no gap and no duplicate while events are appended during the catch-up read", async () => {
    const store = createMemoryEventStore();
    await store.append("run_t", [{ type: "run.created", data: createdData() }]);
    await store.append(
      "run_t",
      Array.from({ length: 40 }, (_, i) => delta(i)),
    );
    const writer = appendInBursts(store, "run_t", 600);
    const seqs = await collect(store, "run_t", 0, 640, { slow: true });
    await writer;
    assert.deepEqual(seqs, range(0, 640));
  });

  it("resumes from the middle, and survives a buffer overflow by reading the store again", async () => {
    const store = createMemoryEventStore();
    await store.append("run_t", [{ type: "run.created", data: createdData() }]);
    const writer = appendInBursts(store, "run_t", 400, 3);
    const seqs = await collect(store, "run_t", 25, 400, { maxBuffered: 5, slow: true });
    await writer;
    assert.deepEqual(seqs, range(25, 400));
  });

  it("tails another process's appends to the same SQLite file exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "entourage-tail-"));
    try {
      const file = join(dir, "events.db");
      const writerStore = await openSqliteEventStore(file);
      const readerStore = await openSqliteEventStore(file, { pollIntervalMs: 5 });
      await writerStore.append("run_x", [{ type: "run.created", data: createdData() }]);
      const writer = appendInBursts(writerStore, "run_x", 300, 11);
      const seqs = await collect(readerStore, "run_x", 0, 300);
      await writer;
      assert.deepEqual(seqs, range(0, 300));
      await writerStore.close();
      await readerStore.close();
    } finally {
      removeDir(dir);
    }
  });
});

describe("SSE over a socket", () => {
  it("a client that disconnects and reconnects with Last-Event-ID receives every event exactly once", async () => {
    const h = createHarness();
    await h.store.append("run_s", [{ type: "run.created", data: createdData() }]);
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    try {
      const total = 500;
      const writer = appendInBursts(h.store, "run_s", total, 5);
      const received: number[] = [];
      let lastEventId: string | undefined;
      // Five connections, each cut after a different number of events.
      for (const take of [37, 1, 80, 150, Number.POSITIVE_INFINITY]) {
        let n = 0;
        const records = await readSse(`${listening.url}/runs/run_s/stream`, {
          lastEventId,
          until: (r) => ++n >= take || r.event.seq >= total,
        });
        for (const r of records) {
          assert.equal(r.id, String(r.event.seq));
          received.push(r.event.seq);
        }
        lastEventId = records.at(-1)?.id ?? lastEventId;
        if (received.at(-1) === total) break;
      }
      await writer;
      assert.deepEqual(received, range(0, total));
    } finally {
      await listening.close();
    }
  });

  it("rejects a Last-Event-ID that is not a seq with 400, and starts at ?from= without one", async () => {
    const h = createHarness();
    await h.store.append("run_s", [{ type: "run.created", data: createdData() }, delta(1), delta(2)]);
    const bad = await h.request("/runs/run_s/stream", { headers: { "last-event-id": "../../x" } });
    assert.equal(bad.status, 400);
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    try {
      const records = await readSse(`${listening.url}/runs/run_s/events?from=1`, {
        until: (r) => r.event.seq === 2,
      });
      assert.deepEqual(
        records.map((r) => r.event.seq),
        [1, 2],
      );
    } finally {
      await listening.close();
    }
  });

  it("streams every run on /events/stream with runId:seq ids", async () => {
    const h = createHarness();
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    try {
      const reading = readSse(`${listening.url}/events/stream`, { until: (r) => r.event.runId === "run_2" });
      await sleep(100);
      await h.store.append("run_1", [{ type: "run.created", data: createdData() }]);
      await h.store.append("run_2", [{ type: "run.created", data: createdData() }]);
      const records = await reading;
      assert.deepEqual(
        records.map((r) => r.id),
        ["run_1:0", "run_2:0"],
      );
    } finally {
      await listening.close();
    }
  });

  it("on shutdown, open streams deliver every event already logged, then end", async () => {
    const h = createHarness();
    await h.store.append("run_s", [{ type: "run.created", data: createdData() }]);
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    const reading = readSse(`${listening.url}/runs/run_s/stream`, { until: () => false });
    await sleep(100);
    const last: EntourageEvent[] = await h.store.append(
      "run_s",
      Array.from({ length: 50 }, (_, i) => delta(i)),
    );
    await listening.close();
    const records = await reading;
    assert.equal(records.at(-1)?.event.seq, last.at(-1)?.seq);
    assert.equal(records.length, 51);
  });
});
