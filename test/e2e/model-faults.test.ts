import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import {
  type CliResult,
  cliEnv,
  jsonLines,
  makeSampleRepo,
  removeDir,
  runCli,
  tempDir,
} from "../helpers/cli.ts";
import {
  assertNoCrash,
  dbEvents,
  describeResult,
  editTurn,
  FIXED_LINE,
  fakeModelArgs,
  finishTurn,
  readTurn,
} from "./support.ts";

/**
 * Model faults, end to end: the built CLI against the fake model server, which answers some turns with a
 * rate limit, a server error, a stream that goes silent, a stream cut mid-tool-call, or a tool call whose
 * arguments are not JSON. Each run must either recover (exit 0, the diff fixes the bug) or fail with a
 * clear message (exit 1, no stack trace); every retry must be an `llm.retry` event both in the `--json`
 * output and in the SQLite log. Each test has its own ENTOURAGE_HOME, repo and server.
 *
 * These run over the OpenAI chat wire; what each provider's adapter does with the same faults (Anthropic,
 * Google, the Responses API, openai-compatible) is the Model conformance suite,
 * test/llm/model-conformance.test.ts.
 */

interface FaultRun {
  home: string;
  repo: string;
  server: FakeModelServer;
  result: CliResult;
  events: Record<string, unknown>[];
  runId: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function runFault(
  turns: FakeTurn[],
  options: {
    config?: Record<string, unknown>;
    provider?: string;
    env?: Record<string, string>;
    json?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<FaultRun> {
  const home = tempDir("home");
  const repo = makeSampleRepo();
  const server = await startFakeModelServer({ scenario: turns });
  cleanups.push(
    () => server.close(),
    () => removeDir(home),
    () => removeDir(repo),
  );
  if (options.config) writeFileSync(join(home, "config.json"), JSON.stringify(options.config));
  const result = await runCli(
    [
      "run",
      "Fix the failing tests",
      "--repo",
      repo,
      ...fakeModelArgs(server.baseUrl, options.provider),
      ...(options.json === false ? [] : ["--json"]),
    ],
    { env: cliEnv(home, options.env), timeoutMs: options.timeoutMs ?? 30_000 },
  );
  const events = options.json === false ? [] : jsonLines(result.stdout);
  return { home, repo, server, result, events, runId: String(events[0]?.runId ?? "") };
}

const retriesOf = (events: readonly { type?: unknown; data?: unknown }[]) =>
  events.filter((e) => e.type === "llm.retry").map((e) => e.data as Record<string, unknown>);

const finishedOf = (events: readonly { type?: unknown; data?: unknown }[]) =>
  events.findLast((e) => e.type === "run.finished")?.data as
    | { status: string; summary?: string; error?: { code: string; message: string } }
    | undefined;

/** The run recovered: exit 0, succeeded, every turn used, the fix in the diff, retries logged twice over. */
async function assertRecovered(run: FaultRun, expectedRetries: number): Promise<Record<string, unknown>[]> {
  assert.equal(run.result.code, 0, describeResult(run.result));
  assertNoCrash(run.result);
  assert.deepEqual(run.server.failures, [], "the fake server saw an unexpected request");
  assert.equal(run.server.remainingTurns(), 0, "not every scripted turn was used");
  assert.equal(finishedOf(run.events)?.status, "succeeded");

  const retries = retriesOf(run.events);
  assert.equal(retries.length, expectedRetries, `llm.retry events: ${JSON.stringify(retries)}`);
  const stored = dbEvents(run.home, run.runId);
  assert.deepEqual(
    retriesOf(stored),
    retries,
    "the llm.retry events in SQLite differ from the --json output",
  );
  assert.equal(stored.length, run.events.length, "SQLite and --json hold different numbers of events");

  const diff = await runCli(["diff", run.runId], { env: cliEnv(run.home) });
  assert.equal(diff.code, 0, diff.stderr);
  assert.ok(diff.stdout.includes(`+  ${FIXED_LINE}`), `the diff does not contain the fix:\n${diff.stdout}`);
  return retries;
}

/** A retried attempt resends exactly the same conversation: nothing of the failed attempt leaks into it. */
function assertSameTurnResent(server: FakeModelServer, failed: number): void {
  const a = server.requests[failed]?.body;
  const b = server.requests[failed + 1]?.body;
  assert.ok(a && b, `requests #${failed} and #${failed + 1} were not both made`);
  assert.deepEqual(b.messages, a.messages, `request #${failed + 1} is not a resend of #${failed}`);
}

describe("model faults: the run recovers", () => {
  it("429 with retry-after: waits the server's delay, retries, succeeds", async () => {
    const run = await runFault([
      { name: "rate limited", status: 429, retryAfter: 1 },
      readTurn,
      editTurn,
      finishTurn,
    ]);
    const [retry] = await assertRecovered(run, 1);
    assert.equal(retry?.status, 429);
    assert.equal(retry?.attempt, 1);
    assert.equal(retry?.delayMs, 1000, "retry-after: 1 must be honoured as a 1000 ms wait");
    assert.match(String(retry?.reason), /HTTP 429/);
    const gap = (run.server.requests[1]?.time ?? 0) - (run.server.requests[0]?.time ?? 0);
    assert.ok(gap >= 950, `the retry came ${gap} ms after the 429, before retry-after elapsed`);
    assertSameTurnResent(run.server, 0);
  });

  it("500 mid-run (after a tool call): backs off, retries the same step, succeeds", async () => {
    const run = await runFault([readTurn, { name: "server error", status: 500 }, editTurn, finishTurn]);
    const [retry] = await assertRecovered(run, 1);
    assert.equal(retry?.status, 500);
    assert.match(String(retry?.reason), /HTTP 500/);
    assert.ok(Number(retry?.delayMs) <= 500, `first backoff is at most 500 ms, got ${retry?.delayMs}`);
    assertSameTurnResent(run.server, 1);
  });

  it("a stream that stalls is ended by the idle timeout (modelIdleTimeoutSeconds: 0.5) and retried", async () => {
    const run = await runFault(
      [{ ...readTurn, name: "stalls", stallAfterChunks: 2 }, readTurn, editTurn, finishTurn],
      // Killed after 10 s: with the setting applied the run takes about 1 s; the default idle timeout is 60 s.
      { config: { modelIdleTimeoutSeconds: 0.5 }, timeoutMs: 10_000 },
    );
    assert.notEqual(
      run.result.signal,
      "SIGKILL",
      "the CLI was still waiting on the stalled stream after 10 s: modelIdleTimeoutSeconds: 0.5 in " +
        "$ENTOURAGE_HOME/config.json was not applied (src/config/config.ts loadConfig validates every layer " +
        "with configSchema.partial(), which fills in defaults, so the env and flag layers reset file settings to 60)",
    );
    const [retry] = await assertRecovered(run, 1);
    assert.equal(retry?.status, undefined);
    assert.match(String(retry?.reason), /idle timeout/);
    assert.match(String(retry?.reason), /500 ms/);
    assert.match(String(retry?.reason), /partial output of this attempt is discarded/);
    const stalled = run.server.requests[0];
    const gap = (run.server.requests[1]?.time ?? 0) - (stalled?.time ?? 0);
    assert.ok(gap >= 450, `the stalled stream was given up after only ${gap} ms`);
    assert.equal(stalled?.ended, false, "the stalled response cannot have completed");
    assertSameTurnResent(run.server, 0);
    // The text streamed before the stall was discarded: the step's text is the retry's, once.
    const steps = run.events.filter((e) => e.type === "agent.step.ended");
    assert.equal((steps[0]?.data as { text?: string } | undefined)?.text, "Reading the date helpers.");
  });

  it("a stream cut inside a tool call's arguments is retried; the half call never runs", async () => {
    // OpenAI chunks: role, "Reading ", "the ", "date ", "helpers.", then the tool call in 3 fragments.
    const run = await runFault([
      { ...readTurn, name: "cut", truncateAfterChunks: 6 },
      readTurn,
      editTurn,
      finishTurn,
    ]);
    const [retry] = await assertRecovered(run, 1);
    assert.match(String(retry?.reason), /connection broke|ended before the answer was complete/);
    const reads = run.events.filter(
      (e) => e.type === "tool.call.requested" && (e.data as { name: string }).name === "read_file",
    );
    assert.equal(reads.length, 1, "the read_file call of the cut attempt must not be executed");
    assertSameTurnResent(run.server, 0);
  });

  it("a stream that ends cleanly but early (no finish, no [DONE]) is retried", async () => {
    const run = await runFault([
      readTurn,
      { ...editTurn, name: "ends early", endAfterChunks: 3 },
      editTurn,
      finishTurn,
    ]);
    const [retry] = await assertRecovered(run, 1);
    assert.match(String(retry?.reason), /ended (before the answer was complete|without a finish reason)/);
    assertSameTurnResent(run.server, 1);
  });

  it("malformed tool-call JSON: the model gets a tool error saying so, and the run goes on", async () => {
    const run = await runFault([
      {
        name: "bad json",
        text: "Reading.",
        toolCalls: [{ id: "bad1", name: "read_file", argumentsText: '{"path": "src/date.js"' }],
      },
      { ...readTurn, expectMessageContains: ["not valid JSON"] },
      editTurn,
      finishTurn,
    ]);
    await assertRecovered(run, 0);
    const ended = run.events.find(
      (e) => e.type === "tool.call.ended" && (e.data as { callId: string }).callId === "bad1",
    )?.data as { isError: boolean; skipped?: string; output: string } | undefined;
    assert.equal(ended?.isError, true);
    assert.equal(ended?.skipped, "invalid");
    // What the model was sent next: the tool result for bad1, an error about the JSON.
    const messages = run.server.requests[1]?.body.messages as {
      role: string;
      tool_call_id?: string;
      content?: unknown;
    }[];
    const toolResult = messages.find((m) => m.role === "tool" && m.tool_call_id === "bad1");
    assert.ok(toolResult, `no tool result for bad1 in ${JSON.stringify(messages)}`);
    assert.match(JSON.stringify(toolResult.content), /not valid JSON/);
    assert.match(JSON.stringify(toolResult.content), /Send the call again/);
  });
});

describe("model faults: retries exhausted", () => {
  it("6 × 500 with the default maxRetries (5): exit 1, failed with model_unavailable, listed as failed", async () => {
    const fault: FakeTurn = { name: "down", status: 500, retryAfterMs: 10, errorMessage: "upstream is down" };
    const run = await runFault(
      Array.from({ length: 6 }, () => fault),
      { json: false },
    );
    assert.equal(run.result.code, 1, describeResult(run.result));
    assertNoCrash(run.result);
    assert.equal(run.server.requests.length, 6, "expected exactly 1 + maxRetries (5) attempts");
    assert.deepEqual(run.server.failures, []);
    // The human view names the cause and says what to do.
    assert.match(run.result.stdout, /did not answer after 6 attempts/);
    assert.match(run.result.stdout, /HTTP 500/);
    assert.match(run.result.stdout, /upstream is down/);
    assert.match(run.result.stdout, /resume the run/);

    const list = await runCli(["runs", "--json"], { env: cliEnv(run.home) });
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as { runId: string; status: string }[];
    assert.equal(runs.length, 1);
    const runId = runs[0]?.runId ?? "";
    assert.equal(runs[0]?.status, "failed");
    const table = await runCli(["runs"], { env: cliEnv(run.home) });
    assert.match(table.stdout, new RegExp(`${runId}\\s+failed`));

    const shown = await runCli(["show", runId, "--json"], { env: cliEnv(run.home) });
    const events = jsonLines(shown.stdout);
    const finished = finishedOf(events);
    assert.equal(finished?.status, "failed");
    assert.equal(finished?.error?.code, "model_unavailable");
    assert.match(String(finished?.error?.message), /6 attempts/);
    const retries = retriesOf(events);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.status, r.delayMs]),
      [1, 2, 3, 4, 5].map((n) => [n, 500, 10]),
    );
    assert.deepEqual(retriesOf(dbEvents(run.home, runId)), retries);
  });
});
