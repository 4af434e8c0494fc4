import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

type Event = { runId: string; type: string; agentId?: string; data: Record<string, unknown> };

/**
 * A parallel delegation of an agent that can only read (the analyzer) and one that writes: the
 * reader works on the run's workspace with no copy of its own and nothing to merge; the writer's copy
 * is made and merged back as before.
 */
describe("entourage run --mode dynamic, a read-only agent in parallel", () => {
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
      scenario: join(ROOT, "test", "e2e", "scenarios", "dynamic-read-only.json"),
    });
    run = await runCli(
      ["run", "Explain the date bug and start a changelog", "--repo", repo, "--mode", "dynamic"]
        .concat(fakeModel(server))
        .concat(["--no-verify", "--json"]),
      { env: cliEnv(home) },
    );
    events = jsonLines(run.stdout) as unknown as Event[];
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("succeeds with every scripted turn served and every expectation met", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    assert.equal(events.at(-1)?.data.status, "succeeded");
  });

  it("makes a workspace copy for the writer only, and merges only the writer's", () => {
    const runId = events[0]!.runId;
    const call = events.find((e) => e.type === "tool.call.requested" && e.data.name === "delegate")!;
    const agentsDir = join(home, "runs", runId, "agents");
    assert.deepEqual(readdirSync(agentsDir), [`${String(call.data.callId)}-1`], "no copy for the analyzer");
    const merges = events.filter((e) => e.type === "workspace.merged");
    const implementer = events.find((e) => e.type === "agent.started" && e.data.name === "implementer")!;
    assert.deepEqual(
      merges.map((m) => [m.data.fromAgentId, m.data.merged]),
      [[implementer.agentId, ["CHANGELOG.md"]]],
    );
    // The analyzer's read went to the run's workspace and returned the file.
    const analyzer = events.find((e) => e.type === "agent.started" && e.data.name === "analyzer")!;
    const read = events.find(
      (e) => e.type === "tool.call.ended" && e.agentId === analyzer.agentId && e.data.name === "read_file",
    );
    assert.ok(read, "the analyzer read a file");
    assert.ok(!events.some((e) => e.type === "checkpoint.created" && e.agentId === analyzer.agentId));
  });

  it("ends with the writer's change in the run's workspace; the checkout is untouched", () => {
    assert.equal(treeHash(repo), original);
    const workspace = String(events[0]!.data.workspace);
    assert.equal(readFileSync(join(workspace, "CHANGELOG.md"), "utf8"), "# Changelog\n\n- Nothing yet.\n");
    assert.ok(existsSync(join(workspace, "src", "date.js")));
  });
});
