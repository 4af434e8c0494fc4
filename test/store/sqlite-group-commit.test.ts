import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openSqliteEventStore, thisProcess } from "../../src/store/index.ts";
import { sampleEvents, waitFor } from "../support/store/event-store.conformance.ts";

const tmp = mkdtempSync(join(tmpdir(), "entourage-group-commit-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(tmp, `store-${files++}.db`);
const workerPath = fileURLToPath(new URL("./helpers/intent-worker.ts", import.meta.url));

describe("SQLite group commit", () => {
  it("lands appends made at once to many runs, each run gap-free, and a lost lease rejects only its own", async () => {
    const file = freshFile();
    const store = await openSqliteEventStore(file);
    const held = await store.acquireLease("run_leased", thisProcess("test"), 30_000);
    assert.ok(held.ok);
    const runs = Array.from({ length: 20 }, (_, i) => `run_${i}`);
    // 20 runs × 10 single-event appends, none waiting for another: they share rounds.
    const appends = runs.flatMap((runId) =>
      Array.from({ length: 10 }, (_, i) =>
        store.append(runId, [sampleEvents.delta(`${runId}:${i}`)], { durable: i % 2 === 0 }),
      ),
    );
    const stale = store.append("run_leased", [sampleEvents.delta("fenced")], { leaseToken: "not-the-token" });
    const fine = store.append("run_leased", [sampleEvents.delta("unfenced")]);
    await Promise.all(appends);
    await assert.rejects(stale, (error: { code?: string }) => error.code === "lease_lost");
    assert.equal((await fine)[0]?.seq, 0);
    await store.close();

    const reopened = await openSqliteEventStore(file);
    for (const runId of runs) {
      const events = await reopened.read(runId);
      assert.deepEqual(
        events.map((e) => (e.type === "agent.text.delta" ? `${e.seq} ${e.data.text}` : "")),
        Array.from({ length: 10 }, (_, i) => `${i} ${runId}:${i}`),
      );
    }
    assert.deepEqual(
      (await reopened.read("run_leased")).map((e) => (e.type === "agent.text.delta" ? e.data.text : "")),
      ["unfenced"],
    );
    await reopened.close();
  });

  it("keeps each run's seqs and totals right when another connection appends between its rounds", async () => {
    const file = freshFile();
    const [a, b] = [await openSqliteEventStore(file), await openSqliteEventStore(file)];
    const runs = ["run_shared", "run_a_only"];
    // Each connection remembers where the runs it wrote stand; the other's commits must make it re-read.
    for (let i = 0; i < 20; i++) {
      const writer = i % 3 === 0 ? b : a;
      await Promise.all(runs.map((runId) => writer.append(runId, [sampleEvents.response(10, 1, 0.5)])));
      if (i % 4 === 0) await b.append("run_shared", [sampleEvents.response(100, 0)]);
    }
    await Promise.all([a.close(), b.close()]);

    const reopened = await openSqliteEventStore(file);
    assert.deepEqual(
      (await reopened.read("run_shared")).map((e) => e.seq),
      Array.from({ length: 25 }, (_, i) => i),
    );
    const totals = Object.fromEntries(
      (await reopened.listRuns()).map((r) => [r.runId, [r.events, r.inputTokens, r.costKnown]]),
    );
    assert.deepEqual(totals, { run_shared: [25, 700, false], run_a_only: [20, 200, true] });
    await reopened.close();
  });

  it("keeps the WAL file bounded while 64 writers append 64 MB, and the database whole after close", async () => {
    const file = freshFile();
    const store = await openSqliteEventStore(file);
    const text = "x".repeat(16_384);
    const runs = Array.from({ length: 64 }, (_, r) => `run_big${r}`);
    await Promise.all(
      runs.map(async (runId) => {
        for (let i = 0; i < 64; i++) await store.append(runId, [sampleEvents.delta(`${i}:${text}`)]);
      }),
    );
    // SQLite never shrinks the WAL file, so its size is the most it held: checkpoints kept up (one every
    // 1,000 pages, 4 MB; pipelined rounds must not starve them).
    const walBytes = statSync(`${file}-wal`).size;
    assert.ok(walBytes < 48 * 1024 * 1024, `the WAL grew to ${walBytes} bytes`);
    await store.close();
    assert.equal(existsSync(`${file}-wal`), false, "the last connection to close checkpointed it away");

    const reopened = await openSqliteEventStore(file);
    for (const runId of runs) assert.equal((await reopened.read(runId)).length, 64);
    await reopened.close();
  });

  for (const runs of [4, 64]) {
    it(`keeps every intent whose act happened when the process is killed -9 mid-run (${runs} runs at once)`, async () => {
      await killedMidRun(runs);
    });
  }
});

/** A worker drives `runs` runs, acting after each durable intent, until SIGKILL; every act's intent is logged. */
async function killedMidRun(runs: number): Promise<void> {
  const file = freshFile();
  const acts = join(tmp, `acts-${runs}.txt`);
  const child = spawn(process.execPath, [workerPath, JSON.stringify({ file, acts, runs })], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const actCount = () => (existsSync(acts) ? readFileSync(acts, "utf8").split("\n").length - 1 : 0);
  await waitFor(() => actCount() >= 200 || child.exitCode !== null, "200 acts", 60_000);
  assert.equal(child.exitCode, null, `the worker died on its own: ${stderr}`);
  child.kill("SIGKILL");
  await exited;

  const done = readFileSync(acts, "utf8")
    .split("\n")
    .filter((line) => line !== "");
  assert.ok(done.length >= 200);
  const store = await openSqliteEventStore(file);
  for (let r = 0; r < runs; r++) {
    const runId = `run_crash${r}`;
    const events = await store.read(runId);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i),
      `${runId}: gap-free`,
    );
    const logged = new Set(events.flatMap((e) => (e.type === "tool.call.started" ? [e.data.callId] : [])));
    for (const line of done.filter((l) => l.startsWith(`${runId} `))) {
      const callId = line.split(" ")[1] as string;
      assert.ok(logged.has(callId), `${runId} acted on ${callId}, so its intent is in the log`);
      // The event posted (not waited for) before the intent was written before it.
      const at = events.findIndex((e) => e.type === "tool.call.started" && e.data.callId === callId);
      assert.equal(events[at - 1]?.type, "agent.step.started");
    }
  }
  await store.close();
}
