import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { foldRun, type NewEvent, newId } from "../src/core/index.ts";
import type { EventStore } from "../src/store/index.ts";
import { withBenchServer } from "./bench-server.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const created = (task: string): NewEvent => ({
  type: "run.created",
  data: {
    task,
    repo: "/bench/repo",
    workspace: "/bench/workspace",
    mode: "single",
    model: { provider: "scripted", model: "bench", scripted: true },
    sandbox: { backend: "subprocess", isolated: false, network: "off" },
    budget: { maxSteps: 10 },
    approval: "auto",
  },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Reads SSE messages from a stream, calling `onData` with each message's data line. */
export async function consume(
  url: string,
  signal: AbortSignal,
  onData: (data: string) => void,
): Promise<void> {
  const response = await fetch(url, { headers: { accept: "text/event-stream" }, signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (data) onData(data.slice(6));
        end = buffer.indexOf("\n\n");
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/**
 * `runs` runs stream at once; each gets one event every `intervalMs` carrying its append time. Latency is
 * measured from just before `append` to the client having parsed the event.
 */
async function sseLatency(store: EventStore, url: string, runs: number, seconds: number, intervalMs: number) {
  const ids = Array.from({ length: runs }, () => newId("run"));
  for (const id of ids) await store.append(id, [created("sse bench")]);
  const abort = new AbortController();
  const samples: number[] = [];
  let warm = false;
  let connected = 0;
  const clients = ids.map((id) =>
    consume(`${url}/runs/${id}/stream`, abort.signal, (data) => {
      if (data.includes('"run.created"')) {
        connected++;
        return;
      }
      const event = JSON.parse(data) as { data: { text: string } };
      if (warm) samples.push(performance.now() - Number(event.data.text));
    }),
  );
  while (connected < runs) await new Promise((r) => setTimeout(r, 10));
  const writers = ids.map(async (id, i) => {
    await new Promise((r) => setTimeout(r, (i * intervalMs) / runs));
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      await store.append(id, [
        { type: "agent.text.delta", agentId: "agent_1", data: { step: 1, text: String(performance.now()) } },
      ]);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  });
  setTimeout(() => {
    warm = true;
  }, 300);
  await Promise.all(writers);
  await new Promise((r) => setTimeout(r, 200));
  abort.abort();
  await Promise.allSettled(clients);
  const sorted = samples.sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    rate: (runs * 1000) / intervalMs,
  };
}

/** The load generator: `connections` keep-alive loops for `seconds`, in its own thread. */
const LOAD_WORKER = `
const { workerData, parentPort } = require("node:worker_threads");
const http = require("node:http");
const { url, connections, seconds } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const u = new URL(url);
let done = 0, errors = 0;
const until = Date.now() + seconds * 1000;
function loop() {
  if (Date.now() >= until) return Promise.resolve();
  return new Promise((resolve) => {
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, agent }, (res) => {
      res.resume();
      res.on("end", () => { if (res.statusCode === 200) done++; else errors++; resolve(); });
    });
    req.on("error", () => { errors++; resolve(); });
  }).then(loop);
}
Promise.all(Array.from({ length: connections }, loop)).then(() => {
  agent.destroy();
  parentPort.postMessage({ done, errors });
});
`;

function load(url: string, connections: number, seconds: number): Promise<{ done: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD_WORKER, { eval: true, workerData: { url, connections, seconds } });
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

export async function serverBench(table: Table): Promise<void> {
  await withBenchServer(async (url, store) => {
    let bare: Server | undefined;
    try {
      // 1. Event → SSE client.
      const rows: Row[] = [];
      for (const [runs, intervalMs] of [
        [1, 5],
        [50, 50],
      ] as const) {
        const r = await sseLatency(store, url, runs, 3, intervalMs);
        rows.push({
          "runs streaming": String(runs),
          "events/s (total)": String(r.rate),
          samples: String(r.n),
          p50: `${r.p50.toFixed(2)} ms`,
          p99: `${r.p99.toFixed(2)} ms`,
        });
      }
      table(
        "Event → SSE client latency (SQLite append → parsed by a client; target p99 ≤ 50 ms at 50 runs)",
        rows,
      );

      // 2. GET /runs/:id next to a bare node:http handler.
      const runId = newId("run");
      await store.append(runId, [created("req/s bench")]);
      for (let i = 0; i < 20; i++) {
        await store.append(
          runId,
          Array.from(
            { length: 10 },
            (_, j): NewEvent => ({
              type: "agent.text.delta",
              agentId: "agent_1",
              data: { step: 1, text: `t${i}-${j}` },
            }),
          ),
        );
      }
      const body = JSON.stringify({
        run: foldRun(runId, await store.read(runId)),
        live: false,
        pendingApprovals: [],
      });
      bare = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
      });
      await new Promise<void>((resolve) => bare!.listen(0, "127.0.0.1", resolve));
      const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/runs/${runId}`;
      const SECONDS = 3;
      const CONNECTIONS = 32;
      await load(bareUrl, CONNECTIONS, 0.5); // warm-up
      await load(`${url}/runs/${runId}`, CONNECTIONS, 0.5);
      const baseline = await load(bareUrl, CONNECTIONS, SECONDS);
      const api = await load(`${url}/runs/${runId}`, CONNECTIONS, SECONDS);
      const rate = (n: number) => n / SECONDS;
      table(
        `GET /runs/:id (a 201-event run, ${CONNECTIONS} keep-alive connections, ${SECONDS} s; client in a worker thread)`,
        [
          {
            server: "bare node:http (same JSON from memory)",
            "req/s": Math.round(rate(baseline.done)).toLocaleString("en"),
            errors: String(baseline.errors),
            ratio: "1.00×",
          },
          {
            server: "Entourage API (Hono + zod; folded state cached per run)",
            "req/s": Math.round(rate(api.done)).toLocaleString("en"),
            errors: String(api.errors),
            ratio: `${(api.done / baseline.done).toFixed(2)}×`,
          },
        ],
      );
    } finally {
      await new Promise<void>((resolve) => (bare ? bare.close(() => resolve()) : resolve()));
    }
  });
}
