/**
 * The engine's own cost, for `npm run bench`: a 1,000-step scripted run on the in-memory store and on
 * SQLite (interleaved), event appends one at a time under group commit, 50 scripted runs at once in one
 * server next to one alone (with their SSE streams followed by another process), and a checkpoint after
 * a step that changed nothing next to the git commands it used to take. Printed, never asserted.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
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
import { runGit, shadowGitEnv } from "../src/workspace/git.ts";
import { Workspace } from "../src/workspace/index.ts";
import { withApiServer } from "./bench-server.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const at = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const sortedOf = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => at(sortedOf(xs), 50);
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const perSecond = (n: number, elapsedMs: number) =>
  `${Math.round((n / elapsedMs) * 1000).toLocaleString("en")}/s`;

/** A tool that does nothing: `read` (its intent need not be on disk first) or `write` (it must). */
const noopTool = (risk: "read" | "write") =>
  defineTool({
    name: "noop",
    description: "Does nothing (benchmark).",
    input: z.object({ n: z.number() }),
    risk,
    async execute(input) {
      return { output: `ok ${input.n}` };
    },
  });
const noopRead = noopTool("read");
const noopWrite = noopTool("write");

const unusedSandbox: Sandbox = {
  backend: "subprocess",
  isolated: false,
  spec: { workspace: "/nonexistent", network: "off", limits: { timeoutMs: 1, outputBytes: 1 } },
  exec: async () => {
    throw new Error("the benchmark runs no commands");
  },
  destroy: async () => {},
};

/**
 * One agent of `steps` steps (each a no-op tool call) and a finish, on `store`; `turnMs` of model latency
 * per turn. Returns the wall time of the agent and each step's duration (model request to model request).
 */
async function scriptedRun(
  store: EventStore,
  workspace: Workspace,
  steps: number,
  turnMs = 0,
  runId = newId("run"),
  noop = noopRead,
): Promise<{ wallMs: number; stepMs: number[] }> {
  const starts: number[] = [];
  const usage = { inputTokens: 100, outputTokens: 10 };
  const scripted = createScriptedModel({
    turns: Array.from({ length: steps + 1 }, (_, i) =>
      i < steps
        ? { text: "step", toolCalls: [{ name: "noop", arguments: { n: i } }], usage }
        : { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "bench" } }], usage },
    ),
    pace: turnMs > 0 ? { turnMs, chunkMs: 0 } : undefined,
  });
  const model: Model = {
    ...scripted,
    stream(request: ModelRequest): AsyncIterable<ModelPart> {
      starts.push(performance.now());
      return scripted.stream(request);
    },
  };
  const emitter = new RunEmitter(store, runId);
  if ((await store.nextSeq(runId)) === 0) await emitter.emit(created(workspace.dir, steps));
  const agentId = newId("agent");
  const started = await emitter.emit({
    type: "agent.started",
    agentId,
    data: { name: "bench", role: "bench", task: "bench", model: "scripted/bench", tools: ["noop", "finish"] },
  });
  const t0 = performance.now();
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
  const wallMs = performance.now() - t0;
  const stepMs: number[] = [];
  for (let i = 1; i < starts.length; i++) stepMs.push(starts[i]! - starts[i - 1]!);
  return { wallMs, stepMs };
}

function created(dir: string, steps: number): NewEvent {
  return {
    type: "run.created",
    data: {
      task: "bench",
      repo: dir,
      workspace: dir,
      mode: "single",
      model: { provider: "scripted", model: "bench", scripted: true },
      sandbox: { backend: "none", isolated: false, network: "off" },
      budget: { maxSteps: steps + 10 },
      approval: "auto",
    },
  };
}

/** 1. A 1,000-step run: in-memory store (the engine alone) vs SQLite, interleaved, median of 3. */
async function thousandSteps(table: Table, tmp: string, workspace: Workspace): Promise<void> {
  const memory = createMemoryEventStore();
  const sqlite = await openSqliteEventStore(join(tmp, "steps.db"));
  await scriptedRun(memory, workspace, 100);
  await scriptedRun(sqlite, workspace, 100);
  type Timed = { wallMs: number; stepMs: number[] };
  const runs: { memory: Timed[]; sqlite: Timed[]; sqliteWrite: Timed[] } = {
    memory: [],
    sqlite: [],
    sqliteWrite: [],
  };
  for (let i = 0; i < 3; i++) {
    runs.memory.push(await scriptedRun(memory, workspace, 1000));
    runs.sqlite.push(await scriptedRun(sqlite, workspace, 1000));
    runs.sqliteWrite.push(await scriptedRun(sqlite, workspace, 1000, 0, newId("run"), noopWrite));
  }
  await sqlite.close();
  await memory.close();
  const summary = (rs: Timed[]) => ({
    wall: median(rs.map((r) => r.wallMs)),
    step: median(rs.flatMap((r) => r.stepMs)),
    p95: at(sortedOf(rs.flatMap((r) => r.stepMs)), 95),
  });
  const m = summary(runs.memory);
  const s = summary(runs.sqlite);
  const w = summary(runs.sqliteWrite);
  table(
    "Engine per agent step: a 1,000-step scripted run (zero-latency model, a no-op tool; median of 3, interleaved; targets: run < 1.5 s, step ≤ 1 ms on SQLite)",
    [
      {
        store: "in-memory (baseline: the engine alone)",
        "1,000 steps": ms(m.wall),
        "step median": us(m.step),
        "step p95": us(m.p95),
        ratio: "1.00×",
      },
      {
        store: "SQLite, a read tool (its intent is committed, not waited on: a read has no effect)",
        "1,000 steps": ms(s.wall),
        "step median": us(s.step),
        "step p95": us(s.p95),
        ratio: ratio(s.wall, m.wall),
      },
      {
        store: "SQLite, a write tool (its intent fsynced before it acts: one fsync a step)",
        "1,000 steps": ms(w.wall),
        "step median": us(w.step),
        "step p95": us(w.p95),
        ratio: ratio(w.wall, m.wall),
      },
    ],
  );
}

const delta = (i: number): NewEvent => ({
  type: "agent.text.delta",
  agentId: "agent_1",
  data: { step: 1, text: `t${i}` },
});

async function timed(body: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await body();
  return performance.now() - t0;
}

/** 2. Appends: one event per call, by one awaiting writer, by 64 concurrent ones, and as a burst; batches as the baseline. */
async function appends(table: Table, tmp: string): Promise<void> {
  const store = await openSqliteEventStore(join(tmp, "appends.db"));
  const batched = await timed(async () => {
    const runId = newId("run");
    const batch = Array.from({ length: 1000 }, (_, i) => delta(i));
    for (let i = 0; i < 50; i++) await store.append(runId, batch);
  });
  const oneWriter = await timed(async () => {
    const runId = newId("run");
    for (let i = 0; i < 2000; i++) await store.append(runId, [delta(i)]);
  });
  const writers = await timed(() =>
    Promise.all(
      Array.from({ length: 64 }, async () => {
        const runId = newId("run");
        for (let i = 0; i < 500; i++) await store.append(runId, [delta(i)]);
      }),
    ),
  );
  const burst = await timed(() => {
    const runId = newId("run");
    return Promise.all(Array.from({ length: 50_000 }, (_, i) => store.append(runId, [delta(i)])));
  });
  const lease = await leaseCosts(store);
  await store.close();
  const base = 50_000 / batched;
  const row = (pattern: string, n: number, elapsed: number): Row => ({
    pattern,
    "events/s": perSecond(n, elapsed),
    "vs 1,000-event batches": ratio(n / elapsed, base),
  });
  table(
    "SQLite appends, durable before they resolve (target: one event per append ≥ 50k/s under group commit)",
    [
      row("1,000-event batches (baseline)", 50_000, batched),
      row("one event per append, one writer awaiting each (one fsync each)", 2000, oneWriter),
      row("one event per append, 64 writers awaiting each (group commit)", 64 * 500, writers),
      row("one event per append, 50,000 appends issued at once (group commit)", 50_000, burst),
    ],
  );
  table("Run lease on SQLite (median of 500)", lease);
}

async function leaseCosts(store: EventStore): Promise<Row[]> {
  const holder = thisProcess("bench");
  const time = async (body: (i: number) => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) samples.push(await timed(() => body(i)));
    return median(samples);
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
  const plain = await time((i) => store.append(runId, [delta(i)]));
  const fenced = await time((i) => store.append(runId, [delta(i)], { leaseToken: lease.token }));
  await store.releaseLease(lease);
  return [
    { operation: "append one event (baseline)", median: us(plain), ratio: "1.00×" },
    { operation: "append one event, fenced by the lease", median: us(fenced), ratio: ratio(fenced, plain) },
    { operation: "acquire + release the lease", median: us(acquire), ratio: ratio(acquire, plain) },
    { operation: "heartbeat (renew, every TTL/3 = 10 s)", median: us(renew), ratio: ratio(renew, plain) },
  ];
}

const subscriberPath = fileURLToPath(new URL("./sse-subscriber.ts", import.meta.url));

/**
 * 3. `runs` scripted runs at once in one server process (SQLite, `turnMs` of model latency per turn), their
 * SSE streams followed by a child process; each step's time next to the same run alone.
 */
async function manyRuns(table: Table, tmp: string, workspace: Workspace): Promise<void> {
  const RUNS = 50;
  const STEPS = 20;
  const TURN_MS = 100;
  const dir = join(tmp, "server");
  mkdirSync(dir);
  const store = await openSqliteEventStore(join(dir, "events.db"));
  try {
    await withApiServer(store, dir, async (url) => {
      const phase = async (count: number) => {
        const ids = Array.from({ length: count }, () => newId("run"));
        for (const id of ids) await store.append(id, [created(workspace.dir, STEPS)]);
        const child = spawn(process.execPath, [subscriberPath, url, ...ids], {
          stdio: ["pipe", "pipe", "inherit"],
        });
        const lines = createInterface({ input: child.stdout });
        const ready = new Promise<void>((resolve) => lines.once("line", () => resolve()));
        const result = new Promise<{ n: number; p50: number; p99: number; max: number }>((resolve) =>
          lines.on("line", (line) => line.startsWith("{") && resolve(JSON.parse(line))),
        );
        await ready;
        const h = monitorEventLoopDelay({ resolution: 1 });
        h.enable();
        const runs = await Promise.all(
          ids.map((id) => scriptedRun(store, workspace, STEPS, TURN_MS, id, noopWrite)),
        );
        h.disable();
        await new Promise((resolve) => setTimeout(resolve, 100));
        child.stdin.end();
        return { steps: runs.flatMap((r) => r.stepMs), sse: await result, loopMaxMs: h.max / 1e6 };
      };
      await phase(1); // warm-up
      const solo = await phase(1);
      const many = await phase(RUNS);
      const soloMedian = median(solo.steps);
      const rows = [
        { label: "1 run alone (baseline)", ...solo },
        { label: `${RUNS} runs at once`, ...many },
      ].map(({ label, steps, sse, loopMaxMs }): Row => {
        const sorted = sortedOf(steps);
        return {
          runs: label,
          "step median": ms(at(sorted, 50)),
          "step p99": ms(at(sorted, 99)),
          "slowest step": ms(sorted.at(-1) ?? Number.NaN),
          "slowest / solo median": ratio(sorted.at(-1) ?? Number.NaN, soloMedian),
          "event → SSE p50 / p99 / max": `${sse.p50} / ${sse.p99} / ${sse.max} ms (${sse.n} events)`,
          // A stall of the whole process (GC, or the machine busy elsewhere) shows here, not in the engine.
          "event-loop delay max": ms(loopMaxMs),
        };
      });
      table(
        `Runs at once in one server (SQLite; scripted model, ${TURN_MS} ms a turn, ${STEPS} steps each of a write tool, its intent fsynced; SSE followed by another process; targets: no step > 2× solo, SSE p99 ≤ 50 ms)`,
        rows,
      );
    });
  } finally {
    await store.close();
  }
}

/** 4. The checkpoint after a step that changed no file: a stat walk, next to the git commands it replaced. */
async function unchangedCheckpoint(table: Table, tmp: string): Promise<void> {
  const repo = join(tmp, "repo-200");
  mkdirSync(repo);
  execFileSync("git", ["init", "-q"], { cwd: repo });
  for (let i = 0; i < 200; i++) {
    mkdirSync(join(repo, "src", `m${i % 20}`), { recursive: true });
    writeFileSync(join(repo, "src", `m${i % 20}`, `f${i}.ts`), `export const v${i} = ${i};\n`.repeat(20));
  }
  const workspace = await Workspace.create({ repo, dir: join(tmp, "ws-200", "workspace") });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await workspace.snapshot("first");
  const env = shadowGitEnv({
    gitDir: workspace.gitDir,
    workTree: workspace.dir,
    home: join(workspace.gitDir, "entourage", "home"),
    time: Date.now(),
  });
  const commitArgs = ["commit", "-q", "--no-verify", "--no-gpg-sign", "--untracked-files=no", "-m", "x"];
  const walk: number[] = [];
  const git: number[] = [];
  for (let i = 0; i < 30; i++) {
    walk.push(await timed(() => workspace.snapshot("unchanged")));
    git.push(
      await timed(async () => {
        await runGit(["add", "-A"], { env, cwd: workspace.dir });
        await runGit(commitArgs, { env, cwd: workspace.dir, okExitCodes: [0, 1] });
      }),
    );
  }
  table("Checkpoint after a step that changed no file (200 tracked files; median of 30, interleaved)", [
    {
      checkpoint: "git add -A + git commit (baseline: before, 2 git processes)",
      median: ms(median(git)),
      ratio: "1.00×",
    },
    {
      checkpoint: "stat walk against the last snapshot (now: no git process)",
      median: ms(median(walk)),
      ratio: ratio(median(walk), median(git)),
    },
  ]);
}

const SECTIONS = ["steps", "appends", "runs", "checkpoint"] as const;

/** All four tables, or only the `sections` named (`node bench/engine.ts runs`). */
export async function engineBench(table: Table, sections: readonly string[] = SECTIONS): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "entourage-bench-engine-"));
  try {
    const repo = join(tmp, "repo");
    execFileSync("git", ["init", "-q", repo]);
    writeFileSync(join(repo, "a.txt"), "a\n");
    const workspace = await Workspace.create({ repo, dir: join(tmp, "ws", "workspace") });
    if (sections.includes("steps")) await thousandSteps(table, tmp, workspace);
    if (sections.includes("appends")) await appends(table, tmp);
    if (sections.includes("runs")) await manyRuns(table, tmp, workspace);
    if (sections.includes("checkpoint")) await unchangedCheckpoint(table, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// `node bench/engine.ts`: these tables alone.
if (import.meta.main) {
  const { printTable } = await import("./table.ts");
  const named = process.argv.slice(2);
  const unknown = named.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`unknown section ${unknown.join(", ")}; choose from ${SECTIONS.join(", ")}`);
  await engineBench(printTable, named.length > 0 ? named : SECTIONS);
}
