/**
 * The event store backends side by side: SQLite (the embedded default) and PostgreSQL (a private
 * cluster started for the bench, with the server's default durability: fsync on every commit). Append
 * rates with one writer, eight concurrent writers in one process (PostgreSQL's group commit), eight
 * writer processes, and the latency of a new event to a subscriber in another process (SQLite's tail
 * polls, PostgreSQL's is pushed by NOTIFY). PostgreSQL's rows are skipped, saying why, only when no
 * cluster can be started here.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type NewEvent, newId } from "../src/core/index.ts";
import type { EventStore } from "../src/store/index.ts";
import { openSqliteEventStore } from "../src/store/index.ts";
import { type PostgresCluster, startPostgresCluster } from "../test/helpers/postgres.ts";
import { runWorker } from "../test/store/helpers/run-worker.ts";
import { withApiServer } from "./bench-server.ts";
import { consume } from "./server.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const delta = (text: string): NewEvent => ({
  type: "agent.text.delta",
  agentId: "agent_1",
  data: { step: 1, text },
});
const rate = (events: number, ms: number) =>
  `${Math.round((events / ms) * 1000).toLocaleString("en")} events/s`;

async function timed(body: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await body();
  return performance.now() - t0;
}

/** `writers` appenders in this process, each on its own run, one event per append. */
async function concurrentAppends(store: EventStore, writers: number, each: number): Promise<number> {
  return timed(() =>
    Promise.all(
      Array.from({ length: writers }, async () => {
        const runId = newId("run");
        for (let i = 0; i < each; i++) await store.append(runId, [delta(`e${i}`)]);
      }),
    ),
  );
}

/** `processes` writer processes, each on its own run, one event per append; timed from their common start. */
async function processAppends(target: { file?: string; url?: string }, processes: number, each: number) {
  const startAt = Date.now() + 1500;
  await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      runWorker({ ...target, label: `w${i}`, runs: [newId("run")], count: each, startAt }),
    ),
  );
  return Date.now() - startAt;
}

const subscriberPath = fileURLToPath(new URL("./tail-subscriber.ts", import.meta.url));

/** Milliseconds from `append` here to the event arriving in a subscriber process: p50, p99. */
async function tailLatency(store: EventStore, where: string, events: number, intervalMs: number) {
  const child = spawn(process.execPath, [subscriberPath, where, String(events)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const samples: number[] = [];
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  lines.on("line", (line) => (line === "ready" ? ready() : samples.push(Number(line))));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  await isReady;
  const runId = newId("run");
  for (let i = 0; i < events; i++) {
    await store.append(runId, [delta(String(performance.timeOrigin + performance.now()))]);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await exited;
  const sorted = samples.sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return `${at(50).toFixed(1)} / ${at(99).toFixed(1)} ms`;
}

/**
 * Milliseconds from `append` on `writer` to a dashboard client having parsed the event from the SSE stream of
 * an API server that reads the store through a connection of its own (`open`): the path of an event a worker
 * writes to the client of the team's server. p50, p99.
 */
async function sseLatency(
  writer: EventStore,
  open: () => Promise<EventStore>,
  events: number,
  intervalMs: number,
) {
  const dir = mkdtempSync(join(tmpdir(), "entourage-sse-bench-"));
  const serverStore = await open();
  try {
    return await withApiServer(serverStore, dir, async (url) => {
      const runId = newId("run");
      await writer.append(runId, [delta("start")]);
      const abort = new AbortController();
      const samples: number[] = [];
      let connected = false;
      const client = consume(`${url}/runs/${runId}/stream`, abort.signal, (data) => {
        const text = (JSON.parse(data) as { data: { text: string } }).data.text;
        if (text === "start") connected = true;
        else samples.push(performance.now() - Number(text));
      });
      while (!connected) await new Promise((resolve) => setTimeout(resolve, 10));
      for (let i = 0; i < events; i++) {
        await writer.append(runId, [delta(String(performance.now()))]);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      abort.abort();
      await client.catch(() => {});
      const sorted = samples.sort((a, b) => a - b);
      const at = (p: number) =>
        sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
      return `${at(50).toFixed(1)} / ${at(99).toFixed(1)} ms (${sorted.length}/${events})`;
    });
  } finally {
    await serverStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rows(name: string, open: () => Promise<EventStore>, where: { file?: string; url?: string }) {
  const store = await open();
  const single = await timed(async () => {
    const runId = newId("run");
    for (let i = 0; i < 2000; i++) await store.append(runId, [delta(`e${i}`)]);
  });
  const eight = await concurrentAppends(store, 8, 500);
  const batches = await timed(async () => {
    const runId = newId("run");
    const batch = Array.from({ length: 1000 }, (_, i) => delta(`b${i}`));
    for (let i = 0; i < 50; i++) await store.append(runId, batch);
  });
  const processes = await processAppends(where, 8, 300);
  const latency = await tailLatency(store, (where.url ?? where.file) as string, 300, 10);
  const sse = await sseLatency(store, open, 200, 10);
  await store.close();
  return {
    store: name,
    "1 writer, 1 event/append": rate(2000, single),
    "8 writers in 1 process": rate(4000, eight),
    "8 writer processes": rate(2400, processes),
    "1,000-event batches": rate(50_000, batches),
    "tail to another process p50 / p99": latency,
    "to a server's SSE client p50 / p99": sse,
  };
}

export async function storeBackendsBench(table: Table): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "entourage-store-bench-"));
  const results: Row[] = [];
  let cluster: PostgresCluster | undefined;
  try {
    const file = join(dir, "bench.db");
    results.push(
      await rows(
        "SQLite (WAL, flushed before an append resolves; tail polls every 50 ms)",
        () => openSqliteEventStore(file),
        {
          file,
        },
      ),
    );
    try {
      cluster = await startPostgresCluster();
    } catch (error) {
      console.log(`\n(PostgreSQL rows skipped: ${(error as Error).message})`);
    }
    if (cluster) {
      const url = await cluster.createDatabase("bench");
      const { openPostgresEventStore } = await import("../src/store/backends/postgres.ts");
      results.push(
        await rows("PostgreSQL 15 (fsync on; tail by LISTEN/NOTIFY)", () => openPostgresEventStore(url), {
          url,
        }),
      );
    }
    table("Event store backends (same machine; appends durable before they resolve)", results);
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node bench/store-backends.ts`: this table alone.
if (import.meta.main) {
  const { printTable } = await import("./table.ts");
  await storeBackendsBench(printTable);
}
