/**
 * Reader test for persisted format v1 (event format v1, SQLite schema v1). The fixtures were written
 * once by the v1 store and never change; every later version must keep reading them.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type EntourageEvent, eventTypes, parseEvent } from "../../src/core/index.ts";
import { openSqliteEventStore, type RunSummary } from "../../src/store/index.ts";

const fixtures = fileURLToPath(new URL("./fixtures/v1/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "entourage-format-v1-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const lines = readFileSync(join(fixtures, "events.jsonl"), "utf8").trim().split("\n");

describe("persisted format v1", () => {
  it("parses every event of the JSONL fixture", () => {
    const events: EntourageEvent[] = lines.map((line) => parseEvent(JSON.parse(line)));
    assert.equal(events.length, 38);
    assert.ok(events.every((e) => e.v === 1));
    assert.deepEqual(
      events.map((e) => e.seq),
      Array.from({ length: 38 }, (_, i) => i),
    );
    // The fixture holds every type v1 had; a type added later needs its own fixture in the next version.
    const v1Types = new Set(events.map((e) => e.type));
    assert.equal(v1Types.size, 34);
    for (const type of v1Types) assert.ok(eventTypes.includes(type), `${type} is still readable`);
  });

  it("opens the schema v1 database fixture and reads the same events and run row", async () => {
    const file = join(tmp, "entourage.db");
    copyFileSync(join(fixtures, "entourage.db"), file); // opening may migrate it; never touch the fixture
    const store = await openSqliteEventStore(file);
    const expected = lines.map((line) => parseEvent(JSON.parse(line)));
    assert.deepEqual(await store.read("run_1"), expected);
    const runs = JSON.parse(readFileSync(join(fixtures, "runs.json"), "utf8")) as RunSummary[];
    assert.deepEqual(await store.listRuns(), runs);
    const [next] = await store.append("run_1", [{ type: "run.resumed", data: { by: "test" } }]);
    assert.equal(next?.seq, 38, "appending continues the old log gap-free");
    await store.close();
  });
});
