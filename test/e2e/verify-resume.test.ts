import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
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

/** The CLI as a user runs it, with this test's home; `--json` output read as events on demand. */
async function entourage(home: string, args: string[]) {
  const result = await runCli(args, { env: cliEnv(home) });
  return {
    ...result,
    /** Only for commands run with --json. */
    get events() {
      return jsonLines(result.stdout) as Event[];
    },
  };
}

/** `entourage run <task>` on `repo` with the fake model, approving everything, events on stdout. */
function runArgs(repo: string, server: { baseUrl: string }, task: string, ...extra: string[]): string[] {
  return ["run", task, "--repo", repo, ...fakeModelFlags(server), "--yes", "--json", ...extra];
}

async function withModel<T>(scenario: FakeTurn[], fn: (server: FakeModelServer) => Promise<T>): Promise<T> {
  const server = await startFakeModelServer({ scenario });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

const edit = { name: "edit_file", arguments: { path: "README.md", old_string: "#", new_string: "##" } };
const finishClaimingPass = {
  name: "finish",
  arguments: { status: "done", summary: "Fixed the date bug; all tests pass.", tests_passed: true },
};
const editThenClaim: FakeTurn[] = [{ toolCalls: [edit] }, { toolCalls: [finishClaimingPass] }];
const ofType = (events: Event[], type: string) => events.filter((e) => e.type === type);

describe("the run's outcome comes from the project's tests", () => {
  it("single mode: a model that claims the tests pass does not make a failing change succeed", async () => {
    const { home, repo } = fixture();
    await withModel(editThenClaim, async (server) => {
      const run = await entourage(home, runArgs(repo, server, "Fix the date bug", "--mode", "single"));
      assert.equal(run.code, 1, run.stderr);
      const [started] = ofType(run.events, "verification.started");
      assert.equal(started?.data.command, "npm test");
      const [verified] = ofType(run.events, "verification.ended");
      assert.equal(verified?.data.status, "failed");
      assert.equal(verified?.data.exitCode, 1);
      const finished = ofType(run.events, "run.finished")[0]?.data;
      assert.equal(finished?.status, "failed");
      assert.match(String(finished?.summary), /does not pass the project's tests: npm test exited 1/);
      const runs = await entourage(home, ["runs"]);
      assert.match(runs.stdout, /TESTS/);
      assert.match(runs.stdout, /failed .* failed\s+Fix the date bug/);
    });
  });

  it("dynamic mode: the only test run was denied, Entourage still runs the tests and the run fails", async () => {
    const { home, repo } = fixture();
    const delegate = { tasks: [{ agent: "implementer", task: "Fix the date bug." }] };
    const scenario: FakeTurn[] = [
      { toolCalls: [{ name: "delegate", arguments: delegate }] },
      { toolCalls: [edit] },
      { toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }] },
      { toolCalls: [finishClaimingPass] },
      { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Done: tests pass." } }] },
    ];
    await withModel(scenario, async (server) => {
      const run = await entourage(
        home,
        runArgs(repo, server, "Fix the date bug", "--deny", "run_command:npm test*", "--mode", "dynamic"),
      );
      const denied = ofType(run.events, "tool.call.ended").find((e) => e.data.name === "run_command");
      assert.equal(denied?.data.skipped, "denied", "the agent's npm test was denied");
      assert.equal(ofType(run.events, "verification.ended")[0]?.data.status, "failed");
      assert.equal(ofType(run.events, "run.finished")[0]?.data.status, "failed");
      assert.equal(run.code, 1);
    });
  });

  it("--no-verify: the run says it was not verified, in the log and in `runs`", async () => {
    const { home, repo } = fixture();
    await withModel(editThenClaim, async (server) => {
      const run = await entourage(
        home,
        runArgs(repo, server, "Tidy the README", "--mode", "single", "--no-verify"),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(ofType(run.events, "verification.started").length, 0, "no test was run");
      assert.equal(ofType(run.events, "verification.ended")[0]?.data.status, "not_verified");
      assert.match(
        String(ofType(run.events, "run.finished")[0]?.data.summary),
        /Not verified: verification is turned off/,
      );
      const runs = await entourage(home, ["runs"]);
      assert.match(runs.stdout, /succeeded .* not verified\s+Tidy the README/);
    });
  });
});

describe("--setup", () => {
  it("runs once before any agent, visibly, and the agents see what it made", async () => {
    const { home, repo } = fixture();
    const scenario: FakeTurn[] = [
      { toolCalls: [{ name: "read_file", arguments: { path: "build/made-by-setup.txt" } }] },
      { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Read it." } }] },
    ];
    await withModel(scenario, async (server) => {
      const setup = "mkdir -p build && echo 'made by setup' > build/made-by-setup.txt";
      const run = await entourage(
        home,
        runArgs(repo, server, "Read the setup's output", "--mode", "single", "--setup", setup),
      );
      const types = run.events.map((e) => e.type);
      assert.ok(
        types.indexOf("setup.ended") < types.indexOf("llm.request"),
        "setup ran before the first model call",
      );
      assert.equal(ofType(run.events, "setup.ended")[0]?.data.exitCode, 0);
      const read = ofType(run.events, "tool.call.ended").find((e) => e.data.name === "read_file");
      assert.match(String(read?.data.output), /made by setup/);
    });
  });

  it("a failing setup stops the run before any model call, with its output", async () => {
    const { home, repo } = fixture();
    await withModel([{ text: "never asked" }], async (server) => {
      const setup = "echo 'npm ERR! missing lockfile' >&2; exit 3";
      const run = await entourage(
        home,
        runArgs(repo, server, "Anything", "--mode", "single", "--setup", setup),
      );
      assert.equal(run.code, 1);
      assert.equal(ofType(run.events, "llm.request").length, 0);
      const finished = ofType(run.events, "run.finished")[0]?.data;
      assert.equal((finished?.error as { code?: string } | undefined)?.code, "setup_failed");
      assert.match(String(finished?.summary), /exited 3[\s\S]*npm ERR! missing lockfile/);
      assert.equal(server.requests.length, 0);
    });
  });
});

describe("--setup-network", () => {
  it("gives the network to the setup command only: the setup downloads, the agent's command cannot", async () => {
    const { home, repo } = fixture();
    const site = createServer((_req, res) => res.end("dependency v1"));
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
    const fetchTo = (file: string) =>
      `node -e "fetch('${url}').then((r) => r.text()).then((t) => require('fs').writeFileSync('${file}', t))"`;
    const scenario: FakeTurn[] = [
      { toolCalls: [{ name: "run_command", arguments: { command: fetchTo("agent.txt") } }] },
      { toolCalls: [{ name: "read_file", arguments: { path: "setup.txt" } }] },
      { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Checked." } }] },
    ];
    try {
      await withModel(scenario, async (server) => {
        const args = ["--mode", "single", "--no-verify", "--setup", fetchTo("setup.txt"), "--setup-network"];
        const run = await entourage(home, runArgs(repo, server, "Check the download", ...args));
        assert.equal(run.code, 0, run.stderr);
        const started = ofType(run.events, "setup.started")[0]?.data;
        assert.equal(started?.network, "on");
        assert.equal(ofType(run.events, "setup.ended")[0]?.data.exitCode, 0, "the setup reached the network");
        const [agentCommand, read] = ofType(run.events, "tool.call.ended");
        assert.notEqual(agentCommand?.data.exitCode, 0, "the agent's command had no network");
        assert.match(String(read?.data.output), /dependency v1/);
      });
    } finally {
      site.close();
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
    const first = await entourage(
      home,
      runArgs(repo, { baseUrl: deadUrl }, "Tidy the README", "--mode", "single", "--no-verify"),
    );
    const runId = String(first.events[0]?.runId);
    assert.equal(first.code, 1);
    const failed = ofType(first.events, "run.finished")[0]?.data;
    assert.match(String((failed?.error as { code?: string } | undefined)?.code), /^model_/);
    assert.match(
      String((failed?.error as { message?: string } | undefined)?.message),
      /could not connect \(.*ECONNREFUSED/,
      "a server that is not there is told apart from a connection that broke",
    );

    const tidied: FakeTurn[] = [
      { toolCalls: [edit] },
      { toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Tidied." } }] },
    ];
    await withModel(tidied, async (live) => {
      const resumed = await entourage(home, ["resume", runId, "--base-url", live.baseUrl, "--json"]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const all = (await entourage(home, ["show", runId, "--json"])).events;
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
      assert.ok(resumed.events.length > 0);
      assert.equal(live.requests.length, 2, "the new server answered the rest of the run");

      // rewind takes a model too: the switch is recorded, and the run is left paused for resume.
      const rewound = await entourage(home, ["rewind", runId, "--to", "1", "--model", "other-coder"]);
      assert.equal(rewound.code, 0, rewound.stderr);
      const after = (await entourage(home, ["show", runId, "--json"])).events;
      const switched = ofType(after, "model.changed").at(-1)?.data as {
        to: { model: string; baseUrl: string };
        by: string;
      };
      assert.equal(switched.by, "rewind");
      assert.equal(switched.to.model, "other-coder");
      assert.equal(switched.to.baseUrl, live.baseUrl, "the server is kept when only the model changes");
    });
  });

  it("resume refuses a run that failed for another reason, and a bad --provider changes nothing", async () => {
    const { home, repo } = fixture();
    await withModel(editThenClaim, async (server) => {
      const run = await entourage(home, runArgs(repo, server, "Fix it", "--mode", "single"));
      const runId = String(run.events[0]?.runId);
      assert.equal(run.code, 1, "the tests fail");
      const again = await entourage(home, ["resume", runId]);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /has already failed; nothing to resume/);
      const before = (await entourage(home, ["show", runId, "--json"])).stdout;
      const bad = await entourage(home, ["rewind", runId, "--to", "1", "--provider", "nonsense"]);
      assert.equal(bad.code, 2);
      const afterShow = (await entourage(home, ["show", runId, "--json"])).stdout;
      assert.equal(afterShow, before, "nothing was written");
    });
  });
});
