import assert from "node:assert/strict";
import { test } from "node:test";
import { addDays, formatISODate } from "../src/date.js";

test("addDays crosses a month boundary", () => {
  assert.equal(
    addDays(new Date(Date.UTC(2024, 0, 30)), 3)
      .toISOString()
      .slice(0, 10),
    "2024-02-02",
  );
});

test("formatISODate pads month and day", () => {
  assert.equal(formatISODate(new Date(Date.UTC(2024, 0, 5))), "2024-01-05");
});

test("formatISODate handles December", () => {
  assert.equal(formatISODate(new Date(Date.UTC(2023, 11, 31))), "2023-12-31");
});
