import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { it } from "node:test";
import { z } from "zod";
import { fileTools } from "./index.ts";

/**
 * What the model sees of each tool — name, description, JSON schema — is behaviour: a silent change
 * there changes what agents do. Rewrite the snapshot on purpose with UPDATE_SNAPSHOTS=1.
 */
const SNAPSHOT = new URL("./tool-schemas.snap.json", import.meta.url);

it("tool descriptions and input schemas match the snapshot", () => {
  const actual = Object.fromEntries(
    fileTools.map((tool) => [
      tool.name,
      { description: tool.description, inputSchema: z.toJSONSchema(tool.input, { io: "input" }) },
    ]),
  );
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_SNAPSHOTS === "1" || !existsSync(SNAPSHOT)) {
    writeFileSync(SNAPSHOT, text);
    if (process.env.UPDATE_SNAPSHOTS !== "1")
      assert.fail("No snapshot existed; wrote it. Review tool-schemas.snap.json and run again.");
    return;
  }
  assert.deepEqual(
    JSON.parse(text),
    JSON.parse(readFileSync(SNAPSHOT, "utf8")),
    "Run with UPDATE_SNAPSHOTS=1 if the change is intended.",
  );
});
