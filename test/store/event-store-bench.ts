/**
 * Event store throughput, printed, never asserted. Run: node test/store/event-store-bench.ts [dir]
 * (`dir` should be on the disk you care about: fsync cost is the whole story for single appends).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NewEvent } from "../../src/core/index.ts";
import { createMemoryEventStore, type EventStore, openSqliteEventStore } from "../../src/store/index.ts";

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "entourage-bench-"));

function delta(i: number): NewEvent {
  return {
    type: "agent.text.delta",
    agentId: "agt_1",
    data: { step: 1, text: `token ${i} of a streamed answer` },
  };
}

function toolEnded(i: number): NewEvent {
  return {
    type: "tool.call.ended",
    agentId: "agt_1",
    data: {
      callId: `call_${i}`,
      name: "run_command",
      output: "ok\n".repeat(100),
      isError: false,
      durationMs: 12,
    },
  };
}

async function rate(label: string, events: number, fn: () => Promise<void>): Promise<void> {
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  console.log(
    `${label.padEnd(48)} ${Math.round((events / ms) * 1000)
      .toLocaleString("en-US")
      .padStart(10)} events/s`,
  );
}

async function bench(name: string, open: () => Promise<EventStore>): Promise<void> {
  const store = await open();
  const batch = Array.from({ length: 1000 }, (_, i) => delta(i));
  const bigBatch = Array.from({ length: 1000 }, (_, i) => toolEnded(i));
  await rate(`${name}: append, 1000-event batches (small)`, 100_000, async () => {
    for (let b = 0; b < 100; b++) await store.append("run_batch", batch);
  });
  await rate(`${name}: append, 1000-event batches (300 B output)`, 20_000, async () => {
    for (let b = 0; b < 20; b++) await store.append("run_big", bigBatch);
  });
  const singles = 2000;
  await rate(`${name}: append, single events`, singles, async () => {
    for (let i = 0; i < singles; i++) await store.append("run_single", [delta(i)]);
  });
  await rate(`${name}: read, pages of 1000`, 100_000, async () => {
    for (let from = 0; from < 100_000; from += 1000)
      await store.read("run_batch", { fromSeq: from, limit: 1000 });
  });
  await store.close();
}

try {
  await bench("memory", async () => createMemoryEventStore());
  await bench("sqlite FULL", () => openSqliteEventStore(join(dir, "full.db"), { synchronous: "full" }));
  await bench("sqlite NORMAL", () => openSqliteEventStore(join(dir, "normal.db"), { synchronous: "normal" }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
