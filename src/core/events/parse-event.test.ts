import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { z } from "zod";
import { eventSchema, parseEvent, safeParseEvent } from "./index.ts";

const fixture = new URL("../../../test/store/fixtures/v1/events.jsonl", import.meta.url);
const lines = readFileSync(fixture, "utf8").trim().split("\n");
const event = JSON.parse(lines.find((l) => l.includes('"tool.call.ended"'))!) as Record<string, unknown>;

/** The issues' paths and codes: what a person reading the error is told. */
const issuesOf = (value: unknown) => {
  const result = safeParseEvent(value);
  assert.equal(result.success, false, `accepted ${JSON.stringify(value)}`);
  return result.error!.issues.map((i) => ({ path: i.path.join("."), code: i.code }));
};

describe("parseEvent (each type's schema made on first use)", () => {
  it("reads every fixture event exactly as the union of all types does", () => {
    for (const line of lines)
      assert.deepEqual(parseEvent(JSON.parse(line)), eventSchema().parse(JSON.parse(line)));
  });

  it("names the bad field of a known type, as the union does", () => {
    const bad = { ...event, data: { ...(event.data as object), isError: "no" } };
    assert.deepEqual(issuesOf(bad), [{ path: "data.isError", code: "invalid_type" }]);
    assert.deepEqual(
      issuesOf(bad),
      eventSchema()
        .safeParse(bad)
        .error!.issues.map((i) => ({ path: i.path.join("."), code: i.code })),
    );
    assert.throws(() => parseEvent(bad), z.ZodError);
  });

  it("rejects an unknown type, a missing one and what is not an object, with the union's error", () => {
    for (const value of [
      { ...event, type: "tool.call.exploded" },
      { ...event, type: undefined },
      "text",
      null,
      7,
    ]) {
      const union = eventSchema().safeParse(value);
      assert.equal(union.success, false);
      assert.deepEqual(
        issuesOf(value),
        union.error!.issues.map((i) => ({ path: i.path.join("."), code: i.code })),
      );
    }
  });

  it("strips fields a type does not declare, keeping the event's own", () => {
    const parsed = parseEvent({ ...event, extra: 1, data: { ...(event.data as object), extra: 2 } });
    assert.equal("extra" in parsed, false);
    assert.equal("extra" in parsed.data, false);
    assert.equal(parsed.type, "tool.call.ended");
  });
});
