import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
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

type Event = { runId: string; type: string; agentId?: string; seq: number; data: Record<string, unknown> };

/**
 * Dynamic mode end to end: a planner delegates two independent edits in parallel (separate workspace
 * copies, merged cleanly), a test run, then two edits of the same lines in parallel — a real conflict that
 * must reach the planner with both versions and lose nothing. The fake server serves the parallel agents'
 * turns by content (`match`), since their requests race.
 */
describe("entourage run --mode dynamic", () => {
  let home: string;
  let repo: string;
  let original: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  let events: Event[];
  let run: Awaited<ReturnType<typeof runCli>>;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    original = treeHash(repo);
    server = await startFakeModelServer({
      scenario: join(ROOT, "test", "e2e", "scenarios", "dynamic-parallel.json"),
    });
    run = await runCli(
      [
        "run",
        "Fix the date bug and document it",
        "--repo",
        repo,
        "--mode",
        "dynamic",
        ...fakeModel(server),
        "--json",
      ],
      { env: cliEnv(home) },
    );
    events = jsonLines(run.stdout) as unknown as Event[];
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("succeeds with every turn served and every expectation of the scenario met", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    assert.equal(events.at(-1)?.data.status, "succeeded");
  });

  it("builds the agent tree: orchestrator → planner → delegated agents, with the ledgers as events", () => {
    const started = events.filter((e) => e.type === "agent.started");
    const root = started.find((e) => e.data.phase === "orchestrator")!;
    const planner = started.find((e) => e.data.phase === "planner")!;
    assert.equal(planner.data.parentAgentId, root.agentId);
    const delegated = started.filter((e) => String(e.data.phase).startsWith("delegate:"));
    assert.deepEqual(delegated.map((e) => e.data.name).sort(), [
      "implementer",
      "implementer",
      "implementer",
      "implementer",
      "tester",
    ]);
    for (const e of delegated) assert.equal(e.data.parentAgentId, planner.agentId);
    assert.ok(events.some((e) => e.type === "plan.proposed"));
    assert.ok(events.some((e) => e.type === "ledger.updated"));
  });

  it("gives parallel agents their own copies and merges different files cleanly", () => {
    const merges = events.filter((e) => e.type === "workspace.merged");
    assert.equal(merges.length, 4);
    assert.deepEqual(
      merges.slice(0, 2).map((m) => [m.data.merged, (m.data.conflicts as unknown[]).length]),
      [
        [["src/date.js"], 0],
        [["README.md"], 0],
      ],
    );
    const runId = events[0]!.runId;
    assert.ok(existsSync(join(home, "runs", runId, "agents")), "no per-agent workspace copies were made");
  });

  it("surfaces a real conflict with all three versions and never drops either side", () => {
    const conflicted = events.filter((e) => e.type === "workspace.merged").at(-1)!;
    const conflicts = conflicted.data.conflicts as {
      path: string;
      ours: string;
      theirs: string;
      base: string;
    }[];
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0]!.path, "src/date.js");
    assert.match(conflicts[0]!.ours, /padTwo/);
    assert.match(conflicts[0]!.theirs, /zeroPad/);
    assert.match(conflicts[0]!.base, /const pad = /);
    // The planner was told, with both versions (the scenario's expectMessageContains checked it too).
    const finalPlannerRequest = JSON.stringify(server.requests.at(-1)?.body);
    assert.match(finalPlannerRequest, /CONFLICT in src\/date\.js/);
    assert.match(finalPlannerRequest, /zeroPad/);
    assert.match(finalPlannerRequest, /padTwo/);
  });

  it("ends with both clean changes and the kept side of the conflict; the checkout is untouched", async () => {
    assert.equal(treeHash(repo), original);
    const runId = events[0]!.runId;
    const workspace = String(events[0]!.data.workspace);
    const date = readFileSync(join(workspace, "src", "date.js"), "utf8");
    assert.match(date, /padTwo\(date\.getUTCMonth\(\) \+ 1\)/);
    assert.doesNotMatch(date, /zeroPad|<<<<<<<|>>>>>>>/);
    const stat = await runCli(["diff", runId, "--stat"], { env: cliEnv(home) });
    assert.match(stat.stdout, /README\.md/);
    assert.match(stat.stdout, /src\/date\.js/);
  });
});
