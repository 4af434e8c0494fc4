import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { EntourageEvent } from "../../src/core/index.ts";
import { openSqliteEventStore } from "../../src/store/index.ts";
import { loadedCodec } from "../../src/store/load-codec.ts";
import { sampleEvents } from "../support/store/event-store.conformance.ts";
import { runWorker } from "./helpers/run-worker.ts";

/**
 * The SQLite store loads the event schemas (zod) on its first read, append or subscription, never to
 * list runs. These tests need a process where nothing loaded them yet: this file runs alone in its own
 * (node --test runs each file in a process), and the order of its tests matters.
 */
const tmp = mkdtempSync(join(tmpdir(), "entourage-sqlite-lazy-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const text = (event: EntourageEvent) => (event.type === "agent.text.delta" ? event.data.text : event.type);

describe("SQLite event store, before the event schemas are loaded", () => {
  it("lists runs another process wrote without loading the schemas", async () => {
    const file = join(tmp, "listed", "entourage.db");
    await runWorker({ file, label: "w", runs: ["run_w"], count: 3, startAt: Date.now() });
    const store = await openSqliteEventStore(file);
    try {
      const [run] = await store.listRuns();
      assert.equal(run?.runId, "run_w");
      assert.equal(run?.events, 3);
      assert.equal(loadedCodec(), undefined, "listing runs loaded the event schemas");
    } finally {
      await store.close();
    }
  });

  it("keeps the order of appends made while the schemas load, and a close at once still lands them", async () => {
    const file = join(tmp, "first", "entourage.db");
    const store = await openSqliteEventStore(file);
    assert.equal(loadedCodec(), undefined);
    // All in one tick, before anything has loaded: the appends queue, close waits for them.
    const appended = [
      store.append("run_a", [sampleEvents.created("first appends")]),
      store.append("run_a", [sampleEvents.delta("one")], { durable: false }),
      store.append("run_a", [sampleEvents.delta("two"), sampleEvents.delta("three")]),
    ];
    const closed = store.close();
    const results = await Promise.all(appended);
    await closed;
    assert.deepEqual(
      results.flat().map((e) => [e.seq, text(e)]),
      [
        [0, "run.created"],
        [1, "one"],
        [2, "two"],
        [3, "three"],
      ],
    );
    const reopened = await openSqliteEventStore(file);
    try {
      assert.deepEqual(await reopened.read("run_a"), results.flat());
      // Loaded now: an append made after the first ones goes straight to a round, after them.
      const [next] = await reopened.append("run_a", [sampleEvents.delta("four")]);
      assert.equal(next?.seq, 4);
    } finally {
      await reopened.close();
    }
  });
});
