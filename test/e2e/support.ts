import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import type { CliResult } from "../helpers/cli.ts";

/**
 * Shared bits of the fault and bad-input end-to-end suites: the date fix as a short scenario (read, edit,
 * finish: no test command, so a run takes about a second), the flags that point the CLI at the fake model
 * server, and readers for the SQLite event log.
 */

export const FIXED_LINE = 'const pad = (n) => String(n).padStart(2, "0");';
// biome-ignore lint/suspicious/noTemplateCurlyInString: the sample repo's source text, not a template
const BUGGY_RETURN = "  return `${date.getUTCFullYear()}-${date.getUTCMonth()}-${date.getUTCDate()}`;";
const FIXED_RETURN =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the sample repo's source text, not a template
  "  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;";

export const readTurn: FakeTurn = {
  name: "read",
  text: "Reading the date helpers.",
  toolCalls: [{ name: "read_file", arguments: { path: "src/date.js" } }],
};

export const editTurn: FakeTurn = {
  name: "edit",
  expectMessageContains: ["formatISODate"],
  text: "The month is zero-based and unpadded. Fixing it.",
  toolCalls: [
    {
      name: "edit_file",
      arguments: {
        path: "src/date.js",
        old_string: BUGGY_RETURN,
        new_string: `  ${FIXED_LINE}\n${FIXED_RETURN}`,
      },
    },
  ],
};

export const finishTurn: FakeTurn = {
  name: "finish",
  toolCalls: [
    {
      name: "finish",
      arguments: { status: "done", summary: "Fixed formatISODate.", files_changed: ["src/date.js"] },
    },
  ],
};

/** The `run` flags for the fake server over the OpenAI-compatible wire, without a sandbox to set up. */
export function fakeModelArgs(baseUrl: string, provider = "openai-compatible"): string[] {
  return [
    "--provider",
    provider,
    "--base-url",
    baseUrl,
    "--model",
    "fake-coder",
    "--yes",
    "--mode",
    "single",
    "--sandbox",
    "subprocess",
  ];
}

export interface DbEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

/** Every event of a run, straight from `$ENTOURAGE_HOME/entourage.db`. */
export function dbEvents(home: string, runId: string): DbEvent[] {
  const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
  try {
    const rows = db
      .prepare("SELECT seq, type, data FROM events WHERE run_id = ? ORDER BY seq")
      .all(runId) as { seq: number; type: string; data: string }[];
    return rows.map((r) => ({ seq: r.seq, type: r.type, data: JSON.parse(r.data) }));
  } finally {
    db.close();
  }
}

/** Run ids listed in the `runs` table of the database. */
export function dbRunIds(home: string): string[] {
  const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
  try {
    return (db.prepare("SELECT run_id FROM runs ORDER BY run_id").all() as { run_id: string }[]).map(
      (r) => r.run_id,
    );
  } finally {
    db.close();
  }
}

/** The process printed no JavaScript stack trace and was not killed by a signal. */
export function assertNoCrash(result: CliResult): void {
  assert.equal(result.signal, null, `killed by ${result.signal}`);
  for (const [name, text] of [
    ["stderr", result.stderr],
    ["stdout", result.stdout],
  ] as const) {
    assert.doesNotMatch(text, /^\s+at .+[:(]/m, `${name} has a stack trace:\n${text}`);
  }
  assert.doesNotMatch(
    result.stderr,
    /node:internal|TypeError|ReferenceError/,
    `stderr shows an internal error:\n${result.stderr}`,
  );
}

export function describeResult(result: CliResult): string {
  return `exit ${result.code}\nstderr: ${result.stderr}\nstdout tail: ${result.stdout.slice(-3000)}`;
}
