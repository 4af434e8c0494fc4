import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  cliEnv,
  fakeModelFlags,
  jsonLines,
  makeSampleRepo,
  removeDir,
  runCli,
  tempDir,
} from "../helpers/cli.ts";

/**
 * What decides a run's outcome (the project's tests, run by Entourage), what happens before the agents
 * (`--setup`), and that a run is not bound to the model it started with. The built CLI, real git repos,
 * the default sandbox, the fake model server over HTTP.
 */
type Event = { type: string; runId: string; data: Record<string, unknown> };
const cleanup: string[] = [];
after(() => {
  for (const dir of cleanup) removeDir(dir);
});

function fixture(): { home: string; repo: string } {
  const home = tempDir("home");
  const repo = makeSampleRepo(); // its `npm test` (node --test) fails until the date bug is fixed
  cleanup.push(home, repo);
  return { home, repo };
}

const edit = { name: "edit_file", arguments: { path: "README.md", old_string: "#", new_string: "##" } };
const finishClaimingPass = {
  name: "finish",
  arguments: { status: "done", summary: "Fixed the date bug; all tests pass.", tests_passed: true },
};
const ofType = (events: Event[], type: string) => events.filter((e) => e.type === type);

describe("the run's outcome comes from the project's tests", () => {
  it("single mode: a model that claims the tests pass does not make a failing change succeed", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({
      scenario: [{ toolCalls: [edit] }, { toolCalls: [finishClaimingPass] }],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Fix the date bug",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--yes",
          "--mode",
          "single",
          "--json",
        ],
        { env: cliEnv(home) },
      );
      const events = jsonLines(run.stdout) as Event[];
      assert.equal(run.code, 1, run.stderr);
      const [started] = ofType(events, "verification.started");
      assert.equal(started?.data.command, "npm test");
      const [verified] = ofType(events, "verification.ended");
      assert.equal(verified?.data.status, "failed");
      assert.equal(verified?.data.exitCode, 1);
      const finished = ofType(events, "run.finished")[0]?.data;
      assert.equal(finished?.status, "failed");
      assert.match(String(finished?.summary), /does not pass the project's tests: npm test exited 1/);
      const runs = await runCli(["runs"], { env: cliEnv(home) });
      assert.match(runs.stdout, /TESTS/);
      assert.match(runs.stdout, /failed .* failed\s+Fix the date bug/);
    } finally {
      await server.close();
    }
  });

  it("dynamic mode: the only test run was denied, Entourage still runs the tests and the run fails", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({
      scenario: [
        {
          toolCalls: [
            { name: "delegate", arguments: { tasks: [{ agent: "implementer", task: "Fix the date bug." }] } },
          ],
        },
        { toolCalls: [edit] },
        { toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }] },
        { toolCalls: [finishClaimingPass] },
        { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Done: tests pass." } }] },
      ],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Fix the date bug",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--yes",
          "--deny",
          "run_command:npm test*",
          "--mode",
          "dynamic",
          "--json",
        ],
        { env: cliEnv(home) },
      );
      const events = jsonLines(run.stdout) as Event[];
      const denied = ofType(events, "tool.call.ended").find((e) => e.data.name === "run_command");
      assert.equal(denied?.data.skipped, "denied", "the agent's npm test was denied");
      assert.equal(ofType(events, "verification.ended")[0]?.data.status, "failed");
      assert.equal(ofType(events, "run.finished")[0]?.data.status, "failed");
      assert.equal(run.code, 1);
    } finally {
      await server.close();
    }
  });

  it("--no-verify: the run says it was not verified, in the log and in `runs`", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({
      scenario: [{ toolCalls: [edit] }, { toolCalls: [finishClaimingPass] }],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Tidy the README",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--yes",
          "--mode",
          "single",
          "--no-verify",
          "--json",
        ],
        { env: cliEnv(home) },
      );
      const events = jsonLines(run.stdout) as Event[];
      assert.equal(run.code, 0, run.stderr);
      assert.equal(ofType(events, "verification.started").length, 0, "no test was run");
      assert.equal(ofType(events, "verification.ended")[0]?.data.status, "not_verified");
      assert.match(
        String(ofType(events, "run.finished")[0]?.data.summary),
        /Not verified: verification is turned off/,
      );
      const runs = await runCli(["runs"], { env: cliEnv(home) });
      assert.match(runs.stdout, /succeeded .* not verified\s+Tidy the README/);
    } finally {
      await server.close();
    }
  });
});

describe("--setup", () => {
  it("runs once before any agent, visibly, and the agents see what it made", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({
      scenario: [
        { toolCalls: [{ name: "read_file", arguments: { path: "build/made-by-setup.txt" } }] },
        { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Read it." } }] },
      ],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Read the setup's output",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--yes",
          "--mode",
          "single",
          "--setup",
          "mkdir -p build && echo 'made by setup' > build/made-by-setup.txt",
          "--json",
        ],
        { env: cliEnv(home) },
      );
      const events = jsonLines(run.stdout) as Event[];
      const types = events.map((e) => e.type);
      assert.ok(
        types.indexOf("setup.ended") < types.indexOf("llm.request"),
        "setup ran before the first model call",
      );
      assert.equal(ofType(events, "setup.ended")[0]?.data.exitCode, 0);
      const read = ofType(events, "tool.call.ended").find((e) => e.data.name === "read_file");
      assert.match(String(read?.data.output), /made by setup/);
    } finally {
      await server.close();
    }
  });

  it("a failing setup stops the run before any model call, with its output", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({ scenario: [{ text: "never asked" }] });
    try {
      const run = await runCli(
        [
          "run",
          "Anything",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--yes",
          "--mode",
          "single",
          "--setup",
          "echo 'npm ERR! missing lockfile' >&2; exit 3",
          "--json",
        ],
        { env: cliEnv(home) },
      );
      const events = jsonLines(run.stdout) as Event[];
      assert.equal(run.code, 1);
      assert.equal(ofType(events, "llm.request").length, 0);
      const finished = ofType(events, "run.finished")[0]?.data;
      assert.equal((finished?.error as { code?: string } | undefined)?.code, "setup_failed");
      assert.match(String(finished?.summary), /exited 3[\s\S]*npm ERR! missing lockfile/);
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });
});

describe("a run is not tied to its model", () => {
  it("a run that failed because its model server went away resumes on another server (--base-url)", async () => {
    const { home, repo } = fixture();
    // No retries: the dead server fails the run at once.
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "config.json"), JSON.stringify({ maxRetries: 0 }));
    const dead = await startFakeModelServer({ scenario: [] });
    const deadUrl = dead.baseUrl;
    await dead.close();
    const first = await runCli(
      [
        "run",
        "Tidy the README",
        "--repo",
        repo,
        ...fakeModelFlags({ baseUrl: deadUrl }),
        "--yes",
        "--mode",
        "single",
        "--no-verify",
        "--json",
      ],
      { env: cliEnv(home) },
    );
    const events = jsonLines(first.stdout) as Event[];
    const runId = String(events[0]?.runId);
    assert.equal(first.code, 1);
    const failed = ofType(events, "run.finished")[0]?.data;
    assert.match(String((failed?.error as { code?: string } | undefined)?.code), /^model_/);

    const live = await startFakeModelServer({
      scenario: [
        { toolCalls: [edit] },
        { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Tidied." } }] },
      ],
    });
    try {
      const resumed = await runCli(["resume", runId, "--base-url", live.baseUrl, "--json"], {
        env: cliEnv(home),
      });
      assert.equal(resumed.code, 0, resumed.stderr);
      const more = jsonLines(resumed.stdout) as Event[];
      const show = await runCli(["show", runId, "--json"], { env: cliEnv(home) });
      const all = jsonLines(show.stdout) as Event[];
      const changed = ofType(all, "model.changed")[0]?.data as {
        from: { baseUrl: string };
        to: { baseUrl: string; model: string };
        by: string;
      };
      assert.equal(changed.from.baseUrl, deadUrl);
      assert.equal(changed.to.baseUrl, live.baseUrl);
      assert.equal(changed.to.model, "fake-coder", "the model name is kept when only the URL changes");
      assert.equal(changed.by, "resume");
      assert.equal(ofType(all, "run.finished").at(-1)?.data.status, "succeeded");
      assert.ok(more.length > 0);
      assert.equal(live.requests.length, 2, "the new server answered the rest of the run");
    } finally {
      await live.close();
    }
  });

  it("resume refuses a run that failed for another reason, and a bad --provider changes nothing", async () => {
    const { home, repo } = fixture();
    const server = await startFakeModelServer({
      scenario: [{ toolCalls: [edit] }, { toolCalls: [finishClaimingPass] }],
    });
    try {
      const run = await runCli(
        ["run", "Fix it", "--repo", repo, ...fakeModelFlags(server), "--yes", "--mode", "single", "--json"],
        { env: cliEnv(home) },
      );
      const runId = String((jsonLines(run.stdout) as Event[])[0]?.runId);
      assert.equal(run.code, 1, "the tests fail");
      const again = await runCli(["resume", runId], { env: cliEnv(home) });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /has already failed; nothing to resume/);
      const before = (await runCli(["show", runId, "--json"], { env: cliEnv(home) })).stdout;
      const bad = await runCli(["rewind", runId, "--to", "1", "--provider", "nonsense"], {
        env: cliEnv(home),
      });
      assert.equal(bad.code, 2);
      const afterShow = (await runCli(["show", runId, "--json"], { env: cliEnv(home) })).stdout;
      assert.equal(afterShow, before, "nothing was written");
    } finally {
      await server.close();
    }
  });
});
