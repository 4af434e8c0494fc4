import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { loadScenario } from "../fake-llm/scenario.ts";
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

/**
 * The whole product path, as a user runs it: the built CLI as a subprocess, a real git repo with a failing
 * test, the fake model server over real HTTP speaking the OpenAI wire protocol, the default sandbox, the
 * SQLite event log. Nothing in between is mocked.
 */
describe("entourage run (built CLI, fake model server, real repo)", () => {
  let home: string;
  let repo: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  let runId: string;
  let events: Record<string, unknown>[];
  let beforeHash: string;
  let run: Awaited<ReturnType<typeof runCli>>;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    beforeHash = treeHash(repo);
    server = await startFakeModelServer({
      scenario: await loadScenario(join(ROOT, "demo", "fix-date.scenario.json")),
    });
    run = await runCli(
      ["run", "Fix the failing tests", "--repo", repo, ...fakeModel(server), "--mode", "single", "--json"],
      { env: cliEnv(home) },
    );
    events = jsonLines(run.stdout);
    runId = String(events[0]?.runId);
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("exits 0 and prints run.created first, carrying the run id", () => {
    assert.equal(run.code, 0, `stderr: ${run.stderr}\nstdout tail: ${run.stdout.slice(-2000)}`);
    assert.equal(events[0]?.type, "run.created");
    assert.match(runId, /^run_/);
    assert.equal(events.at(-1)?.type, "run.finished");
    assert.equal((events.at(-1)?.data as { status?: string } | undefined)?.status, "succeeded");
  });

  it("ran the repo's real test command in the sandbox: failing first, passing after the edit", () => {
    const commands = events.filter(
      (e) => e.type === "tool.call.ended" && (e.data as { name: string }).name === "run_command",
    );
    assert.deepEqual(
      commands.map((e) => (e.data as { exitCode: number }).exitCode),
      [1, 0],
    );
    assert.match(String((commands[1]?.data as { output?: string } | undefined)?.output), /pass 3/);
  });

  it("sent the model the tool results (asserted on the fake server's recorded requests)", () => {
    assert.equal(server.requests.length, 4);
    const body = JSON.stringify(server.requests[1]?.body);
    assert.match(body, /formatISODate/);
    assert.match(body, /fail 2/);
  });

  it("kept every event, gap-free, in the SQLite file", () => {
    const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
    const rows = db.prepare("SELECT seq, type FROM events WHERE run_id = ? ORDER BY seq").all(runId) as {
      seq: number;
      type: string;
    }[];
    db.close();
    assert.equal(rows.length, events.length);
    assert.deepEqual(
      rows.map((r) => r.seq),
      rows.map((_, i) => i),
    );
    assert.ok(rows.some((r) => r.type === "checkpoint.created"));
  });

  it("left the user's checkout byte-identical, and diff shows the fix", async () => {
    assert.equal(treeHash(repo), beforeHash);
    const diff = await runCli(["diff", runId], { env: cliEnv(home) });
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /\+\s+const pad = \(n\) => String\(n\)\.padStart\(2, "0"\);/);
    assert.match(diff.stdout, /-\s+return `\$\{date\.getUTCFullYear\(\)\}-\$\{date\.getUTCMonth\(\)\}/);
  });

  it("lists the run and shows it human-readably", async () => {
    const runs = await runCli(["runs"], { env: cliEnv(home) });
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, new RegExp(`${runId}\\s+succeeded`));
    const show = await runCli(["show", runId], { env: cliEnv(home) });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /run_command npm test/);
    assert.match(show.stdout, /succeeded/);
    const json = await runCli(["show", runId, "--json"], { env: cliEnv(home) });
    assert.equal(jsonLines(json.stdout).length, events.length);
  });

  it("apply writes the fix into the checkout, whose tests then pass", async () => {
    const applied = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /src\/date\.js/);
    assert.match(readFileSync(join(repo, "src", "date.js"), "utf8"), /padStart\(2, "0"\)/);
    const out = execFileSync(process.execPath, ["--test"], {
      cwd: repo,
      encoding: "utf8",
      env: { PATH: process.env.PATH }, // no NODE_TEST_CONTEXT: this is a separate test run, not a subtest
    });
    assert.match(out, /pass 3/);
    // The user's .git was never touched: the change is there as an uncommitted modification.
    const status = execFileSync("git", ["status", "--porcelain"], { cwd: repo, encoding: "utf8" });
    assert.equal(status.trim(), "M src/date.js");
  });
});
