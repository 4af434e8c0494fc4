import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { api, startCli } from "../helpers/api.ts";
import {
  cliEnv,
  jsonLines,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  runOnTerminal,
  strayTempFiles,
  tempDir,
  worktreeHash,
} from "../helpers/cli.ts";
import { describeResult, editTurn, FIXED_LINE, fakeModelArgs, finishTurn, readTurn } from "./support.ts";

/**
 * The model is hostile: asked for a small change, it also writes `.entourage/config.json` naming a plugin,
 * the plugin module itself (which would drop a marker file when loaded), a symlink to /etc/passwd (with a
 * shell command), and an npm `postinstall` script — then reports only the harmless note. The built CLI,
 * the fake model server over the OpenAI wire, a real git checkout.
 */
const SCENARIO = join(ROOT, "test", "e2e", "scenarios", "hostile-apply.json");
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

type ScenarioArg = Parameters<typeof startFakeModelServer>[0]["scenario"];

async function finishedRun(home: string, repo: string, scenario: ScenarioArg): Promise<string> {
  const server = await startFakeModelServer({ scenario });
  cleanups.push(() => server.close());
  const run = await runCli(
    [
      "run",
      "Add a note about the date helpers",
      "--repo",
      repo,
      ...fakeModelArgs(server.baseUrl),
      "--no-verify",
      "--json",
    ],
    { env: cliEnv(home) },
  );
  assert.equal(run.code, 0, describeResult(run));
  assert.deepEqual(server.failures, []);
  return String(jsonLines(run.stdout)[0]?.runId);
}

describe("apply of a hostile model's change", () => {
  let home: string;
  let repo: string;
  let runId: string;
  const marker = () => join(home, "PWNED-plugin");

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    cleanups.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    runId = await finishedRun(home, repo, SCENARIO);
  });

  it("headless: refuses with exit 2, lists every risky path and why, and writes nothing", async () => {
    const untouched = worktreeHash(repo);
    const result = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(result.code, 2, describeResult(result));
    assert.match(result.stderr, /Nothing was applied/);
    assert.match(result.stderr, /\.entourage\/config\.json .*plugins: \.\/helper\.plugin\.js/);
    assert.match(result.stderr, /\.entourage\/helper\.plugin\.js .*runs on your machine/);
    assert.match(result.stderr, /users\.txt .*a symlink to \/etc\/passwd, outside the repository/);
    assert.match(result.stderr, /package\.json .*"postinstall".*npm runs by itself on install/);
    assert.match(result.stderr, /--accept-risky/);
    assert.doesNotMatch(result.stderr, /src\/notes\.txt/, "a plain file is not flagged");
    assert.equal(worktreeHash(repo), untouched);
  });

  it("on a terminal: shows the list and asks; 'n' (the default) writes nothing", async () => {
    const untouched = worktreeHash(repo);
    const result = await runOnTerminal(["apply", runId], [["Apply them too\\? \\[y/N\\]", ""]], cliEnv(home));
    assert.equal(result.code, 2, result.transcript);
    assert.match(result.transcript, /4 change\(s\) of this run need your review/);
    assert.match(result.transcript, /users\.txt .*\/etc\/passwd/);
    assert.match(result.transcript, /Nothing was applied/);
    assert.equal(worktreeHash(repo), untouched);
  });

  it("--accept-risky applies it; the next headless run there is refused as untrusted and the plugin never runs", async () => {
    const applied = await runCli(["apply", runId, "--accept-risky"], { env: cliEnv(home) });
    assert.equal(applied.code, 0, describeResult(applied));
    assert.match(applied.stdout, /Applied 5 files/);
    assert.match(applied.stdout, /entourage trust /);
    assert.equal(readlinkSync(join(repo, "users.txt")), "/etc/passwd");
    assert.ok(lstatSync(join(repo, ".entourage", "helper.plugin.js")).isFile());
    assert.match(readFileSync(join(repo, "package.json"), "utf8"), /postinstall/);
    assert.deepEqual(strayTempFiles(repo), []);

    const model = await startFakeModelServer({ scenario: [readTurn, finishTurn] });
    cleanups.push(() => model.close());
    const next = await runCli(
      ["run", "Look around", "--repo", repo, ...fakeModelArgs(model.baseUrl), "--no-verify", "--json"],
      { env: cliEnv(home) },
    );
    assert.equal(next.code, 2, describeResult(next));
    assert.match(next.stderr, /plugins\s+\.entourage\/helper\.plugin\.js/);
    assert.equal(model.requests.length, 0, "refused before any model call");
    assert.equal(existsSync(marker()), false, "the model's plugin ran on the user's machine");
  });
});

describe("'already applied' is said only when true", () => {
  const git = (dir: string, ...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8" });

  it("after a complete apply: yes; after the user undid one of its files: no, and nothing is written", async () => {
    const home = tempDir("home");
    const repo = makeSampleRepo();
    cleanups.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    const runId = await finishedRun(home, repo, [readTurn, editTurn, finishTurn]);
    assert.equal((await runCli(["apply", runId], { env: cliEnv(home) })).code, 0);
    const again = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /was already applied at .*every file it changes holds the run's version/);

    // The run also adds a file now: a two-file change, of which the user reverts one.
    const home2 = tempDir("home");
    const repo2 = makeSampleRepo();
    cleanups.push(
      () => removeDir(home2),
      () => removeDir(repo2),
    );
    const noteTurn = {
      name: "note",
      toolCalls: [{ name: "write_file", arguments: { path: "NOTES.md", content: "dates fixed\n" } }],
    };
    const twoFiles = await finishedRun(home2, repo2, [readTurn, editTurn, noteTurn, finishTurn]);
    assert.equal((await runCli(["apply", twoFiles], { env: cliEnv(home2) })).code, 0);
    git(repo2, "checkout", "--", "src/date.js");
    const partial = worktreeHash(repo2);
    const result = await runCli(["apply", twoFiles], { env: cliEnv(home2) });
    assert.equal(result.code, 2, describeResult(result));
    assert.doesNotMatch(result.stderr, /already applied/);
    assert.match(result.stderr, /Nothing was applied: 1 file\(s\) .*\n {2}NOTES\.md: the run added it/);
    assert.match(result.stderr, /1 of the 2 file\(s\) the run changes already hold its version/);
    assert.equal(worktreeHash(repo2), partial);
  });

  it("the user made the same edit by hand: the change is in the checkout, but the run was never applied", async () => {
    const home = tempDir("home");
    const repo = makeSampleRepo();
    cleanups.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    const runId = await finishedRun(home, repo, [readTurn, editTurn, finishTurn]);
    const ws = join(home, "runs", runId, "workspace", "src", "date.js");
    writeFileSync(join(repo, "src", "date.js"), readFileSync(ws));
    assert.ok(readFileSync(join(repo, "src", "date.js"), "utf8").includes(FIXED_LINE));
    const result = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(result.code, 2, describeResult(result));
    assert.match(result.stderr, /The change is already in .*every file it changes holds the run's version/);
    assert.doesNotMatch(result.stderr, /was already applied at/, "it never was");
  });
});

describe("the HTTP API", () => {
  it("answers 409 apply_needs_review naming the list, and applies with acceptRisky: true", async () => {
    const home = tempDir("home");
    const repo = makeSampleRepo();
    cleanups.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    const runId = await finishedRun(home, repo, SCENARIO);
    const serve = await startCli(["serve", "--port", "0"], {
      env: cliEnv(home),
      urlPattern: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    });
    cleanups.push(async () => {
      serve.child.kill("SIGTERM");
      await serve.done;
    });
    const refused = await api<{ error: { code: string; message: string } }>(
      serve.url,
      `/runs/${runId}/apply`,
      {
        method: "POST",
      },
    );
    assert.equal(refused.status, 409);
    const { error } = refused.body;
    assert.equal(error.code, "apply_needs_review");
    for (const p of [".entourage/config.json", ".entourage/helper.plugin.js", "users.txt", "package.json"])
      assert.ok(error.message.includes(p), `${p} missing from: ${error.message}`);
    assert.equal(existsSync(join(repo, "users.txt")), false);

    const accepted = await api<{ files: string[]; review: { path: string }[] }>(
      serve.url,
      `/runs/${runId}/apply`,
      { body: { acceptRisky: true } },
    );
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const { body } = accepted;
    assert.equal(body.files.length, 5);
    assert.deepEqual(body.review.map((r) => r.path).sort(), [
      ".entourage/config.json",
      ".entourage/helper.plugin.js",
      "package.json",
      "users.txt",
    ]);
    assert.equal(readlinkSync(join(repo, "users.txt")), "/etc/passwd");
  });
});
