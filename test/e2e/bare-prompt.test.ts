/**
 * The usage everyone knows: `entourage "<task>"` runs the task like `run`, `entourage` alone on a terminal asks for
 * one, and a single unknown word is still an unknown command (a typo of `runs` never starts a run).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import {
  cliEnv,
  jsonLines,
  makeSampleRepo,
  removeDir,
  runCli,
  runOnTerminal,
  tempDir,
} from "../helpers/cli.ts";
import { describeResult, editTurn, fakeModelArgs, finishTurn, readTurn } from "./support.ts";

describe("a bare task", () => {
  let server: FakeModelServer;
  const dirs: string[] = [];
  before(async () => {
    server = await startFakeModelServer({ scenario: [readTurn, editTurn, finishTurn] });
  });
  after(async () => {
    await server.close();
    for (const d of dirs) removeDir(d);
  });
  const fresh = () => {
    const home = tempDir("bare-home");
    const repo = makeSampleRepo();
    dirs.push(home, repo);
    return { home, repo };
  };

  it('entourage "<task>" --repo … runs it, with run\'s flags', async () => {
    const { home, repo } = fresh();
    server.seek(0);
    const result = await runCli(
      ["Fix the failing tests", "--repo", repo, ...fakeModelArgs(server.baseUrl), "--json"],
      {
        env: cliEnv(home),
      },
    );
    assert.equal(result.code, 0, describeResult(result));
    const created = jsonLines(result.stdout).find((e) => e.type === "run.created") as {
      data: { task: string; repo: string };
    };
    assert.equal(created.data.task, "Fix the failing tests");
    assert.equal(created.data.repo, repo);
  });

  it("entourage alone on a terminal asks what to do, then runs it in this folder", async () => {
    const { home, repo } = fresh();
    server.seek(0);
    const env = cliEnv(home, {
      ENTOURAGE_PROVIDER: "openai-compatible",
      ENTOURAGE_BASE_URL: server.baseUrl,
      ENTOURAGE_MODEL: "fake-coder",
      ENTOURAGE_SANDBOX: "subprocess",
      ENTOURAGE_MODE: "single",
    });
    const result = await runOnTerminal([], [["What should they do\\? ", "Fix the failing tests"]], env, repo);
    assert.equal(result.code, 0, result.transcript);
    assert.match(result.transcript, /task Fix the failing tests/);
    assert.match(result.transcript, new RegExp(`repo ${repo}`));
    assert.match(result.transcript, /succeeded/);
  });

  it("a single unknown word is an unknown command, and starts nothing", async () => {
    const { home } = fresh();
    const result = await runCli(["rnus"], { env: cliEnv(home) });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command 'rnus'/);
    assert.match(result.stderr, /Did you mean runs\?/);
    assert.equal(existsSync(join(home, "entourage.db")), false, "no store was even opened");
  });
});
