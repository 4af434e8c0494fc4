import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { type EntourageEvent, UserError } from "../../src/core/index.ts";
import { defaultDatabasePath, openSqliteEventStore, SQLITE_SCHEMA_VERSION } from "../../src/store/index.ts";
import { runEventStoreConformance, sampleEvents, waitFor } from "../support/store/event-store.conformance.ts";
import { runWorker } from "./helpers/run-worker.ts";

const tmp = mkdtempSync(join(tmpdir(), "entourage-sqlite-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const freshFile = () => join(tmp, `store-${files++}`, "entourage.db");

runEventStoreConformance("sqlite", (deps) =>
  openSqliteEventStore(freshFile(), { ...deps, pollIntervalMs: 10 }),
);

const text = (event: EntourageEvent | undefined) =>
  event?.type === "agent.text.delta" ? event.data.text : "";

describe("SQLite event store", () => {
  it("keeps events and run totals across close and reopen, creating parent directories", async () => {
    const file = join(tmp, "nested", "deeper", "entourage.db");
    const first = await openSqliteEventStore(file);
    const written = await first.append("run_a", [
      sampleEvents.created("persist me"),
      sampleEvents.response(10, 2, 0.1),
    ]);
    await first.close();

    const second = await openSqliteEventStore(file);
    assert.deepEqual(await second.read("run_a"), written);
    assert.equal(await second.nextSeq("run_a"), 2);
    const [run] = await second.listRuns();
    assert.equal(run?.task, "persist me");
    assert.equal(run?.inputTokens, 10);
    const [next] = await second.append("run_a", [sampleEvents.delta("continued")]);
    assert.equal(next?.seq, 2);
    await second.close();
  });

  it("never duplicates or skips a seq when two processes append to one file at once", async () => {
    const file = freshFile();
    const runs = ["run_x", "run_y"];
    const startAt = Date.now() + 700;
    // Both open a file that does not exist yet: creation and migration race too.
    await Promise.all([
      runWorker({ file, label: "p1", runs, count: 500, startAt }),
      runWorker({ file, label: "p2", runs, count: 500, startAt }),
    ]);

    const store = await openSqliteEventStore(file);
    const seen = new Set<string>();
    for (const runId of runs) {
      const events = await store.read(runId);
      assert.deepEqual(
        events.map((e) => e.seq),
        Array.from({ length: 500 }, (_, i) => i),
        `${runId} has seqs 0..499, each once`,
      );
      for (const event of events) seen.add(text(event));
      const switches = events.filter((e, i) => i > 0 && e.agentId !== events[i - 1]?.agentId).length;
      assert.ok(switches > 0, `the two writers interleaved in ${runId}`);
    }
    assert.equal(seen.size, 1000, "every appended event is stored exactly once");
    assert.deepEqual((await store.listRuns()).map((r) => r.events).sort(), [500, 500]);
    await store.close();
  });

  it("delivers events another process appends to subscribers, in order and once, mixed with its own", async () => {
    const file = freshFile();
    const store = await openSqliteEventStore(file, { pollIntervalMs: 10 });
    const ofRunX: EntourageEvent[] = [];
    const ofAll: EntourageEvent[] = [];
    const stopX = store.subscribe("run_x", (e) => ofRunX.push(e));
    const stopAll = store.subscribe("*", (e) => ofAll.push(e));

    const startAt = Date.now() + 500;
    const child = runWorker({
      file,
      label: "child",
      runs: ["run_x", "run_y"],
      count: 200,
      startAt,
      batch: 5,
      pauseMs: 2,
    });
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    for (let i = 0; i < 100; i++) {
      await store.append("run_x", [sampleEvents.delta(`parent:${i}`, "parent")]);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await child;
    await waitFor(() => ofAll.length >= 300, "300 events on the '*' subscription");
    await new Promise((resolve) => setTimeout(resolve, 50)); // would reveal late duplicates

    assert.deepEqual(
      ofRunX.map((e) => e.seq),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(ofRunX.filter((e) => e.agentId === "child").length, 100);
    assert.equal(ofAll.length, 300);
    for (const runId of ["run_x", "run_y"]) {
      const seqs = ofAll.filter((e) => e.runId === runId).map((e) => e.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i),
      );
    }
    assert.deepEqual(ofRunX, await store.read("run_x"));
    stopX();
    stopAll();
    await store.close();
  });

  it("delivers events appended through another connection in the same process", async () => {
    const file = freshFile();
    const reader = await openSqliteEventStore(file, { pollIntervalMs: 10 });
    const writer = await openSqliteEventStore(file);
    await writer.append("run_a", [sampleEvents.delta("before subscribe")]);
    const seen: string[] = [];
    const stop = reader.subscribe("run_a", (e) => seen.push(text(e)));
    await writer.append("run_a", [sampleEvents.delta("one"), sampleEvents.delta("two")]);
    await waitFor(() => seen.length === 2, "two events from the other connection");
    assert.deepEqual(seen, ["one", "two"]);
    stop();
    await writer.append("run_a", [sampleEvents.delta("after unsubscribe")]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.deepEqual(seen, ["one", "two"]);
    await reader.close();
    await writer.close();
  });

  it("refuses a database written by a newer schema version, saying what to do", async () => {
    const file = freshFile();
    await (await openSqliteEventStore(file)).close();
    const raw = new DatabaseSync(file);
    raw
      .prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'")
      .run(String(SQLITE_SCHEMA_VERSION + 1));
    raw.close();
    await assert.rejects(openSqliteEventStore(file), (error: unknown) => {
      assert.ok(UserError.isInstance(error));
      assert.equal(error.code, "store_schema_newer");
      assert.ok(error.message.includes(file));
      assert.match(error.message, /newer Entourage/);
      assert.match(error.message, /Upgrade/);
      return true;
    });
  });

  it("refuses a corrupt file with an error naming it", async () => {
    const file = join(tmp, "corrupt.db");
    writeFileSync(file, "this is not a database\n".repeat(100));
    await assert.rejects(openSqliteEventStore(file), (error: unknown) => {
      assert.ok(UserError.isInstance(error));
      assert.equal(error.code, "store_unreadable");
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, /not a database/);
      return true;
    });
  });

  it("refuses to adopt a SQLite database that belongs to something else", async () => {
    const file = join(tmp, "foreign.db");
    const raw = new DatabaseSync(file);
    raw.exec("CREATE TABLE contacts (name TEXT)");
    raw.close();
    await assert.rejects(openSqliteEventStore(file), (error: unknown) => {
      return (
        UserError.isInstance(error) && error.code === "store_not_entourage" && error.message.includes(file)
      );
    });
  });

  it("puts the default database in the Entourage home", () => {
    assert.equal(defaultDatabasePath("/home/dev/.entourage"), "/home/dev/.entourage/entourage.db");
  });
});
