/**
 * `npm run bench`: the engine's own speed, printed as tables with a baseline measured in the same run.
 * Timings here never gate anything; they are for people.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { generalAgent } from "../src/agents/index.ts";
import { type NewEvent, newId, systemClock } from "../src/core/index.ts";
import { createScriptedModel, type Model, type ModelPart, type ModelRequest } from "../src/llm/index.ts";
import { approveAll, RunEmitter, runAgent } from "../src/orchestrator/index.ts";
import type { Sandbox } from "../src/sandbox/index.ts";
import type { EventStore } from "../src/store/index.ts";
import { createMemoryEventStore, openSqliteEventStore, thisProcess } from "../src/store/index.ts";
import { finishTool } from "../src/tools/builtin/finish.ts";
import { defineTool } from "../src/tools/index.ts";
import { Workspace } from "../src/workspace/index.ts";
import { dashboardBench } from "./dashboard.ts";
import { firstTestRunBench } from "./first-test-run.ts";
import { orchestrationBench } from "./orchestration.ts";
import { sandboxBench } from "./sandbox.ts";
import { serverBench } from "./server.ts";
import { startupBench } from "./startup.ts";
import { storeBackendsBench } from "./store-backends.ts";
import { printTable as table } from "./table.ts";
import { workersBench } from "./workers.ts";
import { workspaceSetupBench } from "./workspace-setup.ts";

type Row = Record<string, string>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function stats(samples: number[]): { median: number; p95: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const fmtMs = (ms: number) => `${ms.toFixed(1)} ms`;

// ---------------------------------------------------------------------------------------------------
// 1. Engine overhead per agent step, with a zero-latency scripted model and a no-op tool.

const noop = defineTool({
  name: "noop",
  description: "Does nothing (benchmark).",
  input: z.object({ n: z.number() }),
  risk: "read",
  async execute(input) {
    return { output: `ok ${input.n}` };
  },
});

const unusedSandbox: Sandbox = {
  backend: "subprocess",
  isolated: false,
  spec: { workspace: "/nonexistent", network: "off", limits: { timeoutMs: 1, outputBytes: 1 } },
  exec: async () => {
    throw new Error("the benchmark runs no commands");
  },
  destroy: async () => {},
};

async function engineSteps(store: EventStore, steps: number, workspace: Workspace): Promise<number[]> {
  const starts: number[] = [];
  const scripted = createScriptedModel({
    turns: Array.from({ length: steps + 1 }, (_, i) =>
      i < steps
        ? {
            text: "step",
            toolCalls: [{ name: "noop", arguments: { n: i } }],
            usage: { inputTokens: 100, outputTokens: 10 },
          }
        : {
            toolCalls: [{ name: "finish", arguments: { status: "done", summary: "bench" } }],
            usage: { inputTokens: 100, outputTokens: 10 },
          },
    ),
  });
  const model: Model = {
    ...scripted,
    stream(request: ModelRequest): AsyncIterable<ModelPart> {
      starts.push(performance.now());
      return scripted.stream(request);
    },
  };
  const runId = newId("run");
  const emitter = new RunEmitter(store, runId);
  await emitter.emit({
    type: "run.created",
    data: {
      task: "bench",
      repo: workspace.dir,
      workspace: workspace.dir,
      mode: "single",
      model: { provider: "scripted", model: "bench", scripted: true },
      sandbox: { backend: "none", isolated: false, network: "off" },
      budget: { maxSteps: steps + 10 },
      approval: "auto",
    },
  });
  const agentId = newId("agent");
  const started = await emitter.emit({
    type: "agent.started",
    agentId,
    data: { name: "bench", role: "bench", task: "bench", model: "scripted/bench", tools: ["noop", "finish"] },
  });
  await runAgent(
    {
      emitter,
      model,
      tools: [noop, finishTool],
      workspace,
      sandbox: unusedSandbox,
      approval: { mode: "auto", approver: approveAll },
      budget: { maxSteps: steps + 10, used: { tokens: 0, costUsd: 0 } },
      ids: newId,
      clock: systemClock,
      signal: new AbortController().signal,
    },
    { ...generalAgent, tools: ["noop", "finish"] },
    agentId,
    [started],
  );
  await emitter.flush();
  const durations: number[] = [];
  for (let i = 1; i < starts.length; i++) durations.push(starts[i]! - starts[i - 1]!);
  return durations;
}

// ---------------------------------------------------------------------------------------------------
// 2. Event append rate.

function sampleEvent(i: number) {
  return { type: "agent.text.delta" as const, agentId: "agent_1", data: { step: 1, text: `token ${i} ` } };
}

async function appendRate(store: EventStore, total: number, batch: number): Promise<number> {
  const runId = newId("run");
  const t0 = performance.now();
  for (let i = 0; i < total; i += batch) {
    await store.append(
      runId,
      Array.from({ length: Math.min(batch, total - i) }, (_, j): NewEvent => sampleEvent(i + j)),
    );
  }
  return total / ((performance.now() - t0) / 1000);
}

/** The run lease's cost on SQLite: taking and giving it, a heartbeat, and a fenced append next to a plain one. */
async function leaseCosts(store: EventStore, rounds: number): Promise<Row[]> {
  const holder = thisProcess("bench");
  const time = async (body: (i: number) => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await body(i);
      samples.push(performance.now() - t0);
    }
    return stats(samples).median;
  };
  const runId = newId("run");
  const acquire = await time(async () => {
    const attempt = await store.acquireLease(runId, holder, 30_000);
    if (attempt.ok) await store.releaseLease(attempt.lease);
  });
  const held = await store.acquireLease(runId, holder, 30_000);
  if (!held.ok) throw new Error("bench: lease not acquired");
  let lease = held.lease;
  const renew = await time(async () => {
    lease = await store.renewLease(lease);
  });
  const plain = await time((i) => store.append(runId, [sampleEvent(i)]));
  const fenced = await time((i) => store.append(runId, [sampleEvent(i)], { leaseToken: lease.token }));
  await store.releaseLease(lease);
  return [
    { operation: "append one event (baseline)", median: us(plain), ratio: "1.00×" },
    {
      operation: "append one event, fenced by the lease",
      median: us(fenced),
      ratio: `${(fenced / plain).toFixed(2)}×`,
    },
    {
      operation: "acquire + release the lease",
      median: us(acquire),
      ratio: `${(acquire / plain).toFixed(2)}×`,
    },
    {
      operation: "heartbeat (renew, every TTL/3 = 10 s)",
      median: us(renew),
      ratio: `${(renew / plain).toFixed(2)}×`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// 3. CLI start-up next to `node -e 0`.

function timeCommand(args: string[], runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`);
    samples.push(performance.now() - t0);
  }
  return stats(samples).median;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "entourage-bench-"));
  try {
    const repo = join(tmp, "repo");
    execFileSync("git", ["init", "-q", repo]);
    writeFileSync(join(repo, "a.txt"), "a\n");
    const workspace = await Workspace.create({ repo, dir: join(tmp, "ws", "workspace") });

    const STEPS = 1000;
    const memory = createMemoryEventStore();
    await engineSteps(memory, 100, workspace); // warm-up
    const memSteps = stats(await engineSteps(memory, STEPS, workspace));
    const sqlite = await openSqliteEventStore(join(tmp, "bench.db"));
    await engineSteps(sqlite, 100, workspace);
    const sqlSteps = stats(await engineSteps(sqlite, STEPS, workspace));
    table(
      `Engine overhead per agent step (zero-latency scripted model, no-op tool, ${STEPS} steps; target ≤ 1 ms)`,
      [
        { store: "in-memory", median: us(memSteps.median), p95: us(memSteps.p95), mean: us(memSteps.mean) },
        {
          store: "SQLite (WAL, synchronous=FULL)",
          median: us(sqlSteps.median),
          p95: us(sqlSteps.p95),
          mean: us(sqlSteps.mean),
        },
      ],
    );

    const rows: Row[] = [];
    for (const [name, store] of [
      ["in-memory", memory],
      ["SQLite", sqlite],
    ] as const) {
      const batched = await appendRate(store, 100_000, 1000);
      const single = await appendRate(store, 3000, 1);
      rows.push({
        store: name,
        "1,000-event batches": `${Math.round(batched).toLocaleString("en")} events/s`,
        "one event per append": `${Math.round(single).toLocaleString("en")} events/s`,
      });
    }
    table("Event append rate (target ≥ 100k events/s batched)", rows);
    table("Run lease on SQLite (synchronous=FULL; median of 500)", await leaseCosts(sqlite, 500));
    await sqlite.close();
    await memory.close();
    await storeBackendsBench(table);
    await workersBench(table);

    const bin = new URL("../bin/entourage.js", import.meta.url).pathname;
    const RUNS = 20;
    const baseline = timeCommand(["-e", "0"], RUNS);
    const version = timeCommand([bin, "--version"], RUNS);
    const help = timeCommand([bin, "--help"], RUNS);
    table(`CLI start-up (median of ${RUNS}; target: --version ≤ 3× node -e 0)`, [
      { command: "node -e 0 (baseline)", median: fmtMs(baseline), ratio: "1.00×" },
      {
        command: "entourage --version",
        median: fmtMs(version),
        ratio: `${(version / baseline).toFixed(2)}×`,
      },
      { command: "entourage --help", median: fmtMs(help), ratio: `${(help / baseline).toFixed(2)}×` },
    ]);
    await startupBench(table);

    await orchestrationBench(table);
    await sandboxBench(table);
    await workspaceSetupBench(table);
    await firstTestRunBench(table);
    await serverBench(table);
    await dashboardBench(table);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
