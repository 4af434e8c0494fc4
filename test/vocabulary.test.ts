import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { buildProgram } from "../src/cli/main.ts";
import { configJsonSchema } from "../src/config/index.ts";
import { approvalResolved, runFinished } from "../src/core/events/index.ts";
import { isTerminal } from "../src/core/state.ts";
import {
  APPROVAL_DECISIONS,
  APPROVAL_MODES,
  FINAL_RUN_STATUSES,
  ORCHESTRATION_MODES,
  RISKS,
  RUN_STATUSES,
  SANDBOX_BACKENDS,
} from "../src/core/vocabulary.ts";
import { createRunBody } from "../src/server/schemas.ts";

type Schema = { properties?: Record<string, Schema>; enum?: string[]; default?: unknown };
const enumOf = (schema: unknown, key: string) => (schema as Schema).properties?.[key]?.enum;

/** The API's create-run body as JSON Schema (the OpenAPI document's component). */
function apiBody(): Schema {
  const doc = z.toJSONSchema(createRunBody, { io: "input" }) as {
    $ref?: string;
    $defs?: Record<string, Schema>;
  };
  return doc.$defs?.[doc.$ref?.split("/").at(-1) ?? ""] ?? (doc as Schema);
}

/** The choices a CLI option offers, as `--help` lists them. */
function cliChoices(command: string, flag: string): readonly string[] | undefined {
  const program = buildProgram(() => {});
  const cmd = program.commands.find((c) => c.name() === command);
  return cmd?.options.find((o) => o.long === flag)?.argChoices;
}

describe("one vocabulary: the config file, the API, the CLI and the event log accept the same names", () => {
  it("sandbox backends", () => {
    assert.deepEqual(enumOf(configJsonSchema(), "sandbox"), [...SANDBOX_BACKENDS]);
    assert.deepEqual(enumOf(apiBody(), "sandbox"), [...SANDBOX_BACKENDS]);
    assert.deepEqual(cliChoices("run", "--sandbox"), SANDBOX_BACKENDS);
    assert.deepEqual(cliChoices("demo", "--sandbox"), SANDBOX_BACKENDS);
  });

  it("approval modes, ask-risky the default", () => {
    const config = configJsonSchema() as Schema;
    assert.deepEqual(config.properties?.approval?.enum, [...APPROVAL_MODES]);
    assert.equal(config.properties?.approval?.default, "ask-risky");
    assert.deepEqual(enumOf(apiBody(), "approval"), [...APPROVAL_MODES]);
    assert.deepEqual(cliChoices("run", "--approval"), APPROVAL_MODES);
  });

  it("orchestration modes", () => {
    assert.deepEqual(enumOf(configJsonSchema(), "mode"), [...ORCHESTRATION_MODES]);
    assert.deepEqual(enumOf(apiBody(), "mode"), [...ORCHESTRATION_MODES]);
    assert.deepEqual(cliChoices("run", "--mode"), ORCHESTRATION_MODES);
  });

  it("run statuses: `runs --status` filters by every status; the final ones end a run", () => {
    assert.deepEqual(cliChoices("runs", "--status"), RUN_STATUSES);
    assert.deepEqual(
      RUN_STATUSES.filter((s) => isTerminal(s)),
      [...FINAL_RUN_STATUSES],
    );
    for (const status of RUN_STATUSES) {
      const parsed = runFinished.schema.shape.data.safeParse({ status, summary: "" });
      assert.equal(parsed.success, isTerminal(status), status);
    }
  });

  it("risk classes and approval decisions are what the log records", () => {
    assert.deepEqual(enumOf(configJsonSchema(), "approvalTimeoutDecision"), ["approve", "deny"]);
    for (const decision of APPROVAL_DECISIONS)
      assert.ok(
        approvalResolved.schema.shape.data.safeParse({ approvalId: "a", decision, by: "cli" }).success,
      );
    assert.ok(
      !approvalResolved.schema.shape.data.safeParse({ approvalId: "a", decision: "maybe", by: "cli" })
        .success,
    );
    const rules = (configJsonSchema() as { properties: { approvalRules: { items: Schema } } }).properties
      .approvalRules.items;
    assert.deepEqual(rules.properties?.risk?.enum, [...RISKS]);
  });
});
