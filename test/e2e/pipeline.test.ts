import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  cliEnv,
  fakeModel,
  jsonLines,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  tempDir,
  treeHash,
} from "../helpers/cli.ts";

type Event = { type: string; agentId?: string; seq: number; data: Record<string, unknown> };

/**
 * Pipeline mode end to end: the built CLI, the fake model server playing demo/pipeline.scenario.json
 * (an incomplete first fix that the Tester's real `npm test` catches), the default sandbox.
 */
describe("entourage run --mode pipeline", () => {
  let home: string;
  let repo: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  let events: Event[];
  let code: number | null;
  let stderr: string;
  let original: string;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    original = treeHash(repo);
    server = await startFakeModelServer({ scenario: join(ROOT, "demo", "pipeline.scenario.json") });
    const run = await runCli(
      ["run", "Fix the failing tests in src/date.js", "--repo", repo, ...fakeModel(server), "--json"],
      { env: cliEnv(home) },
    );
    code = run.code;
    stderr = run.stderr;
    events = jsonLines(run.stdout) as unknown as Event[];
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("succeeds, with every scripted turn used and no expectation of the scenario broken", () => {
    assert.equal(code, 0, stderr);
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    assert.equal(events.at(-1)?.data.status, "succeeded");
  });

  it("runs the agents in pipeline order under one orchestrator node, with a hand-off event before each", () => {
    const started = events.filter((e) => e.type === "agent.started");
    assert.deepEqual(
      started.map((e) => `${e.data.name}:${e.data.phase}`),
      [
        "pipeline:orchestrator",
        "analyzer:analyze",
        "implementer:plan",
        "implementer:implement#1",
        "tester:test#1",
        "implementer:implement#2",
        "tester:test#2",
        "refactorer:refactor",
        "tester:test#final",
      ],
    );
    const root = started[0]?.agentId;
    for (const e of started.slice(1)) assert.equal(e.data.parentAgentId, root);
    const handoffs = events.filter((e) => e.type === "agent.handoff").map((e) => e.data.phase);
    assert.deepEqual(
      handoffs,
      started.slice(1).map((e) => e.data.phase),
    );
  });

  it("sends the Implementer back when the real test command fails, and the tests pass after its second round", () => {
    const commands = events.filter((e) => e.type === "tool.call.ended" && e.data.name === "run_command");
    assert.deepEqual(
      commands.map((e) => e.data.exitCode),
      [1, 0, 0],
    );
    const handoff = events.find((e) => e.type === "agent.handoff" && e.data.phase === "implement#2");
    assert.match(String(handoff?.data.reason), /tests failed: npm test exited 1/);
    // The second Implementer got the Tester's report (not its transcript).
    const secondImplementer = server.requests[7]?.body as { messages: { role: string; content: unknown }[] };
    const task = JSON.stringify(secondImplementer.messages.find((m) => m.role === "user"));
    assert.match(task, /The Tester's report \(round 1\)/);
    assert.match(task, /2024-1-5/);
  });

  it("records the plan and approves it (auto under --yes) before any change", () => {
    const proposed = events.find((e) => e.type === "plan.proposed");
    const approved = events.find((e) => e.type === "plan.approved");
    assert.ok(proposed && approved);
    assert.equal(approved.data.by, "auto");
    const firstCheckpoint = events.find((e) => e.type === "checkpoint.created");
    assert.ok(firstCheckpoint && firstCheckpoint.seq > approved.seq);
  });

  it("keeps each agent's prompt prefix (system prompt + tool list) byte-stable across its steps", () => {
    // One request per turn, in scenario order: pairs of turns belong to the same agent.
    const agents: [number, number][] = [
      [0, 1],
      [3, 4],
      [5, 6],
      [7, 8],
      [9, 10],
      [11, 12],
      [13, 14],
    ];
    for (const [a, b] of agents) {
      const first = server.requests[a]?.body as { messages: unknown[]; tools: unknown[] };
      const second = server.requests[b]?.body as { messages: unknown[]; tools: unknown[] };
      assert.equal(
        JSON.stringify(second.tools),
        JSON.stringify(first.tools),
        `tools differ between requests ${a} and ${b}`,
      );
      // The conversation only grows: the second request starts with every message of the first.
      assert.equal(
        JSON.stringify(second.messages.slice(0, first.messages.length)),
        JSON.stringify(first.messages),
        `prefix changed between requests ${a} and ${b}`,
      );
    }
  });

  it("leaves the checkout untouched and the diff holds the working, cleaned-up fix", async () => {
    assert.equal(treeHash(repo), original);
    const runId = String((events[0] as unknown as { runId: string }).runId);
    const diff = await runCli(["diff", runId], { env: cliEnv(home) });
    assert.match(diff.stdout, /\+const pad2 = \(n\) => String\(n\)\.padStart\(2, "0"\);/);
    assert.match(
      diff.stdout,
      /\+\s+return `\$\{date\.getUTCFullYear\(\)\}-\$\{pad2\(date\.getUTCMonth\(\) \+ 1\)\}/,
    );
  });
});

describe("entourage demo", () => {
  it("runs the whole pipeline on the bundled sample with the scripted model and says so", async () => {
    const home = tempDir("home");
    try {
      // --yes as for run (an unknown option before): every call approved, the demo's fast path.
      const run = await runCli(["demo", "--yes"], { env: cliEnv(home) });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /scripted demo model, not an LLM/);
      assert.match(run.stdout, /✔ succeeded/);
      assert.match(run.stdout, /tester finished: failed/); // the first, incomplete fix is caught by the real tests
      const runId = /entourage diff (run_\w+)/.exec(run.stdout)?.[1];
      assert.ok(runId);
      const repo = /The sample repo is (\S+)/.exec(run.stdout)?.[1];
      assert.ok(repo);
      const applied = await runCli(["apply", runId], { env: cliEnv(home) });
      assert.equal(applied.code, 0, applied.stderr);
      const json = await runCli(["show", runId, "--json"], { env: cliEnv(home) });
      const created = jsonLines(json.stdout)[0] as { data: { model: { scripted: boolean } } };
      assert.equal(created.data.model.scripted, true);
    } finally {
      removeDir(home);
    }
  });
});
