/**
 * The PostgreSQL event store against a real PostgreSQL (a private cluster this file starts and removes):
 * the conformance suite every backend passes, then what only a shared server brings — several processes
 * appending to one run, the cross-process tail over LISTEN/NOTIFY (also across a dropped connection),
 * leases raced by processes, group commit keeping appends independent, and the open errors a person
 * must be able to act on. Skipped when PostgreSQL is not installed; FAILS then under ENTOURAGE_CI=1.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, describe, it } from "node:test";
import { EntourageError, type EntourageEvent, UserError } from "../../src/core/index.ts";
import { openPostgresEventStore, POSTGRES_SCHEMA_VERSION } from "../../src/store/backends/postgres.ts";
import { postgresForTests } from "../helpers/postgres.ts";
import { runEventStoreConformance, sampleEvents, waitFor } from "../support/store/event-store.conformance.ts";
import { runWorker } from "./helpers/run-worker.ts";

const { cluster, skip } = await postgresForTests();
after(() => cluster?.stop());
const freshDatabase = (prefix = "t") => cluster!.createDatabase(prefix);

runEventStoreConformance(
  "postgres",
  async (deps) => openPostgresEventStore(await freshDatabase("conformance"), deps),
  { skip },
);

const text = (event: EntourageEvent | undefined) =>
  event?.type === "agent.text.delta" ? event.data.text : "";
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("PostgreSQL event store", { skip }, () => {
  it("keeps events, run totals and leases across close and reopen", async () => {
    const url = await freshDatabase();
    const first = await openPostgresEventStore(url);
    const written = await first.append("run_a", [
      sampleEvents.created("persist me"),
      sampleEvents.response(10, 2, 0.1),
    ]);
    const lease = await first.acquireLease("run_a", { pid: 1, host: "elsewhere", label: "test" }, 30_000);
    await first.close();

    const second = await openPostgresEventStore(url);
    assert.deepEqual(await second.read("run_a"), written);
    assert.equal(await second.nextSeq("run_a"), 2);
    const [run] = await second.listRuns();
    assert.equal(run?.task, "persist me");
    assert.equal(run?.inputTokens, 10);
    assert.equal(run?.costUsd, 0.1);
    assert.ok(lease.ok);
    assert.deepEqual(await second.readLease("run_a"), lease.lease);
    const [next] = await second.append("run_a", [sampleEvents.delta("continued")]);
    assert.equal(next?.seq, 2);
    await second.close();
  });

  it("never duplicates or skips a seq when two processes append to one run at once", async () => {
    const url = await freshDatabase();
    const runs = ["run_x", "run_y"];
    const startAt = Date.now() + 1000;
    // Both open a database with no schema yet: the migration races too. Four appenders in each process.
    await Promise.all([
      runWorker({ url, label: "p1", runs, count: 600, startAt, parallel: 4 }),
      runWorker({ url, label: "p2", runs, count: 600, startAt, parallel: 4 }),
    ]);

    const store = await openPostgresEventStore(url);
    const seen = new Set<string>();
    for (const runId of runs) {
      const events = await store.read(runId);
      assert.deepEqual(
        events.map((e) => e.seq),
        range(600),
        `${runId} has seqs 0..599, each once`,
      );
      for (const event of events) seen.add(text(event));
      const switches = events.filter((e, i) => i > 0 && e.agentId !== events[i - 1]?.agentId).length;
      assert.ok(switches > 0, `the two writers interleaved in ${runId}`);
    }
    assert.equal(seen.size, 1200, "every appended event is stored exactly once");
    assert.deepEqual((await store.listRuns()).map((r) => r.events).sort(), [600, 600]);
    const [version] = await cluster!.query(
      "SELECT value FROM entourage.meta WHERE key = 'schema_version'",
      [],
      new URL(url).pathname.slice(1),
    );
    assert.equal(version?.value, String(POSTGRES_SCHEMA_VERSION), "migrated once, to the current version");
    await store.close();
  });

  it("delivers another process's events to subscribers in order and once, mixed with its own, across a dropped connection", async () => {
    const url = await freshDatabase();
    const errors: unknown[] = [];
    const store = await openPostgresEventStore(url, { onError: (e) => errors.push(e) });
    const ofRunX: EntourageEvent[] = [];
    const ofAll: EntourageEvent[] = [];
    const stopX = store.subscribe("run_x", (e) => ofRunX.push(e));
    const stopAll = store.subscribe("*", (e) => ofAll.push(e));

    const startAt = Date.now() + 800;
    const child = runWorker({
      url,
      label: "child",
      runs: ["run_x", "run_y"],
      count: 300,
      startAt,
      batch: 5,
      pauseMs: 2,
    });
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    for (let i = 0; i < 100; i++) {
      await store.append("run_x", [sampleEvents.delta(`parent:${i}`, "parent")]);
      // Halfway, the server drops the tail's connection: what is committed meanwhile must still arrive, once.
      if (i === 50) {
        const killed = await cluster!.query(
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'entourage-tail' AND datname = $1",
          [new URL(url).pathname.slice(1)],
        );
        assert.equal(killed.length, 1, "the tail's connection was found and dropped");
      }
    }
    await child;
    await waitFor(() => ofAll.length >= 400, "400 events on the '*' subscription", 15_000);
    // Anything late (a duplicate) would arrive with the next NOTIFY: one more event flushes the queue.
    await store.append("run_z", [sampleEvents.delta("flush")]);
    await waitFor(() => ofAll.length >= 401, "the flush event");

    assert.deepEqual(
      ofRunX.map((e) => e.seq),
      range(250),
    );
    assert.equal(ofRunX.filter((e) => e.agentId === "child").length, 150);
    assert.equal(ofAll.length, 401);
    for (const runId of ["run_x", "run_y"]) {
      const seqs = ofAll.filter((e) => e.runId === runId).map((e) => e.seq);
      assert.deepEqual(seqs, range(seqs.length), `${runId} in seq order, each once`);
    }
    assert.deepEqual(ofRunX, await store.read("run_x"));
    assert.ok(
      errors.some((e) => EntourageError.isInstance(e) && e.code === "store_tail_failed"),
      "the dropped connection was reported",
    );
    stopX();
    stopAll();
    await store.close();
  });

  it("gives each run's lease to exactly one of two processes racing for it", async () => {
    const url = await freshDatabase();
    const runs = range(20).map((i) => `run_${i}`);
    await (await openPostgresEventStore(url)).close(); // the schema exists: the race is for the leases
    const startAt = Date.now() + 800;
    const outputs = await Promise.all(
      ["a", "b"].map((label) => runWorker({ url, label, runs, count: 0, startAt, lease: true })),
    );
    const answers = outputs.flatMap((out) =>
      out
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { runId: string; ok: boolean; holder: { label: string } }),
    );
    const store = await openPostgresEventStore(url);
    for (const runId of runs) {
      const forRun = answers.filter((a) => a.runId === runId);
      assert.equal(forRun.length, 2);
      const winners = forRun.filter((a) => a.ok);
      assert.equal(winners.length, 1, `exactly one process holds ${runId}`);
      const loser = forRun.find((a) => !a.ok);
      assert.equal(loser?.holder.label, winners[0]?.holder.label, "the loser is told who won");
      assert.equal((await store.readLease(runId))?.holder.label, winners[0]?.holder.label);
    }
    await store.close();
  });

  it("keeps appends that share a group commit independent: a lost lease or a refused row fails only its own", async () => {
    const store = await openPostgresEventStore(await freshDatabase());
    const me = { pid: process.pid, host: hostname(), label: "test" };
    const held = await store.acquireLease("run_held", me, 30_000);
    assert.ok(held.ok);
    await store.append("run_a", [sampleEvents.created()]);
    // Issued together: they queue behind one another and commit in shared transactions.
    const results = await Promise.allSettled([
      store.append("run_a", [sampleEvents.delta("a1")]),
      store.append("run_held", [sampleEvents.delta("fenced out")], { leaseToken: "not-the-token" }),
      store.append("run_held", [sampleEvents.delta("by the holder")], { leaseToken: held.lease.token }),
      store.append("run_\u0000nul", [sampleEvents.delta("PostgreSQL text cannot hold NUL")]),
      store.append("run_a", [sampleEvents.delta("a2")]),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"],
    );
    const reason = (i: number) => (results[i] as PromiseRejectedResult).reason as EntourageError;
    assert.equal(reason(1).code, "lease_lost");
    assert.equal(reason(3).code, "store_failed");
    assert.match(reason(3).message, /appending to run/);
    assert.deepEqual((await store.read("run_a")).map(text), ["", "a1", "a2"]);
    assert.deepEqual((await store.read("run_held")).map(text), ["by the holder"]);
    await store.close();
  });

  describe("open errors say what to fix", () => {
    const refused =
      (code: string, ...patterns: RegExp[]) =>
      (error: unknown) => {
        assert.ok(UserError.isInstance(error), String(error));
        assert.equal(error.code, code);
        for (const pattern of patterns) assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, new RegExp(cluster!.password), "the password is never printed");
        return true;
      };

    it("an unreachable server", async () => {
      const url = cluster!.url().replace(`:${cluster!.port}/`, ":1/");
      await assert.rejects(
        openPostgresEventStore(url),
        refused("store_unreachable", /127\.0\.0\.1:1/, /ECONNREFUSED/, /ENTOURAGE_DATABASE_URL/),
      );
    });

    it("bad credentials", async () => {
      const url = cluster!.url().replace(`:${cluster!.password}@`, ":wrong-password@");
      await assert.rejects(openPostgresEventStore(url), refused("store_auth_failed", /password/, /\*\*\*/));
    });

    it("a database that does not exist", async () => {
      await assert.rejects(
        openPostgresEventStore(cluster!.url("no_such_db")),
        refused("store_database_missing", /no_such_db/, /createdb/),
      );
    });

    it("a database written by a newer schema", async () => {
      const url = await freshDatabase();
      await (await openPostgresEventStore(url)).close();
      await cluster!.query(
        "UPDATE entourage.meta SET value = $1 WHERE key = 'schema_version'",
        [String(POSTGRES_SCHEMA_VERSION + 1)],
        new URL(url).pathname.slice(1),
      );
      await assert.rejects(
        openPostgresEventStore(url),
        refused("store_schema_newer", /newer Entourage/, /Upgrade/),
      );
    });

    it("an `entourage` schema that belongs to something else", async () => {
      const url = await freshDatabase();
      await cluster!.query(
        "CREATE SCHEMA entourage; CREATE TABLE entourage.contacts (name text)",
        [],
        new URL(url).pathname.slice(1),
      );
      await assert.rejects(
        openPostgresEventStore(url),
        refused("store_not_entourage", /not an Entourage event store/),
      );
    });
  });
});
