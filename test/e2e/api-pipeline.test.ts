import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { api, type LiveCli, startCli, waitForApproval } from "../helpers/api.ts";
import { cliEnv, fakeModelFlags, makeSampleRepo, ROOT, removeDir, tempDir } from "../helpers/cli.ts";
import { dbEvents } from "./support.ts";

/**
 * The pipeline (Analyzer → plan → Implementer ⇄ Tester → Refactorer → Tester, demo/pipeline.scenario.json)
 * driven by the built CLI without a terminal and without --yes; every answer comes over the HTTP API.
 * The scenario's testers run `npm test` three times, in three different agents.
 */
describe("approvals over the API in pipeline mode", () => {
  let home: string;
  let repo: string;
  let server: FakeModelServer;
  let cli: LiveCli | undefined;

  beforeEach(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    server = await startFakeModelServer({ scenario: join(ROOT, "demo", "pipeline.scenario.json") });
  });

  afterEach(async () => {
    if (cli && cli.child.exitCode === null) cli.child.kill("SIGKILL");
    cli = undefined;
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  function start(approval: string): Promise<LiveCli> {
    return startCli(
      [
        "run",
        "Fix the failing tests in src/date.js",
        "--repo",
        repo,
        ...fakeModelFlags(server),
        "--mode",
        "pipeline",
        "--approval",
        approval,
      ],
      { env: cliEnv(home) },
    );
  }

  const answer = (live: LiveCli, approvalId: string, body: Record<string, unknown>) =>
    api<Record<string, unknown>>(live.url, `/runs/${live.runId}/approvals/${approvalId}`, { body });

  it("an always-allow answer is saved to the project config and lets later agents run the command unasked", async () => {
    cli = await start("ask-risky");
    const live = cli;
    const plan = await waitForApproval(live.url, live.runId, "plan");
    assert.equal((await answer(live, plan.approvalId, { decision: "approve" })).status, 200);
    const firstTest = await waitForApproval(live.url, live.runId, "run_command");
    assert.deepEqual(firstTest.args, { command: "npm test" });
    const always = await answer(live, firstTest.approvalId, { decision: "approve", rule: true });
    assert.equal(always.status, 200);
    assert.equal(always.body.ruleLearned, 'run_command "npm test" → allow');

    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(server.failures, []);
    const config = JSON.parse(readFileSync(join(repo, ".entourage", "config.json"), "utf8"));
    assert.deepEqual(config.approvalRules, [{ tool: "run_command", match: "npm test", action: "allow" }]);

    const log = dbEvents(home, live.runId);
    const asked = log.filter((e) => e.type === "approval.requested").map((e) => e.data.tool);
    assert.deepEqual(asked, ["plan", "run_command"], "only the first npm test was asked");
    const resolved = log.find((e) => e.type === "approval.resolved" && e.data.ruleLearned);
    assert.equal(resolved?.data.by, "api");
    // The three test runs happened in three different Tester agents.
    const runs = log.filter((e) => e.type === "tool.call.requested" && e.data.name === "run_command");
    assert.equal(runs.length, 3);
    const phaseOf = (seq: number) =>
      log.findLast((e) => e.type === "agent.started" && e.seq < seq)?.data.phase;
    assert.deepEqual(
      runs.map((e) => phaseOf(e.seq)),
      ["test#1", "test#2", "test#final"],
    );
    assert.deepEqual(
      log
        .filter((e) => e.type === "tool.call.ended" && e.data.name === "run_command")
        .map((e) => e.data.exitCode),
      [1, 0, 0],
    );
  });

  it("approval mode plan: nothing is written until the plan is approved over the API", async () => {
    cli = await start("plan");
    const live = cli;
    const plan = await waitForApproval(live.url, live.runId, "plan");
    // Waiting on the plan: no change anywhere yet.
    const diff = await api<{ diff: string; files: unknown[] }>(live.url, `/runs/${live.runId}/diff`);
    assert.equal(diff.status, 200);
    assert.deepEqual(diff.body.files, []);
    const detail = await api<{ run: { checkpoints: unknown[] } }>(live.url, `/runs/${live.runId}`);
    assert.deepEqual(detail.body.run.checkpoints, []);
    assert.equal((await answer(live, plan.approvalId, { decision: "approve" })).status, 200);
    // After the plan, commands are still asked (ask-risky): answer each test run.
    for (let i = 0; i < 3; i++) {
      const test = await waitForApproval(live.url, live.runId, "run_command");
      assert.equal(
        (await answer(live, test.approvalId, { decision: "approve", by: "dashboard" })).status,
        200,
      );
    }
    const result = await live.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(server.failures, []);
    assert.ok(!existsSync(join(repo, ".entourage", "config.json")), "no rule was saved");

    const log = dbEvents(home, live.runId);
    const approved = log.find((e) => e.type === "plan.approved");
    assert.equal(approved?.data.by, "api");
    const firstWrite = log.find((e) => e.type === "tool.call.started" && e.data.name === "edit_file");
    const firstCheckpoint = log.find((e) => e.type === "checkpoint.created");
    assert.ok(approved && firstWrite && firstCheckpoint);
    assert.ok(firstWrite.seq > approved.seq && firstCheckpoint.seq > approved.seq);
    assert.deepEqual(
      log.filter((e) => e.type === "approval.resolved").map((e) => e.data.by),
      ["api", "dashboard", "dashboard", "dashboard"],
    );
  });
});
