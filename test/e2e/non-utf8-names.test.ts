import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { encodePath } from "../../src/workspace/path-bytes.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, jsonLines, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { dbEvents, describeResult, fakeModelArgs, finishTurn } from "./support.ts";

/**
 * File names that are not UTF-8 (latin-1 `café.txt` is the bytes `caf\xE9.txt`) are neither dropped from
 * the workspace nor renamed by apply: a real repository made at test time holds one committed and one
 * untracked, a scripted model changes both with a shell command, and the real CLI's `apply` writes the
 * change into the checkout under the same bytes.
 */

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const COMMITTED = Buffer.concat([Buffer.from("caf"), Buffer.from([0xe9]), Buffer.from(".txt")]);
const UNTRACKED = Buffer.concat([Buffer.from("na"), Buffer.from([0xef]), Buffer.from("ve.txt")]);
const at = (repo: string, name: Buffer) => Buffer.concat([Buffer.from(`${repo}/`), name]);
const names = (dir: string) =>
  readdirSync(dir, { encoding: "buffer" })
    .map((n) => n.toString("hex"))
    .sort();

describe("file names that are not UTF-8", () => {
  it("are copied byte-exact, changed by a command, shown, and applied under the same bytes", async () => {
    const home = tempDir("latin1-home");
    const repo = tempDir("latin1-repo");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: repo,
        stdio: "pipe",
      });
    git("init", "-q");
    writeFileSync(at(repo, COMMITTED), "committed\n");
    writeFileSync(join(repo, "README.md"), "# latin-1 names\n");
    git("add", "-A");
    git("commit", "-q", "-m", "initial");
    writeFileSync(at(repo, UNTRACKED), "untracked\n");
    const before = names(repo);

    // ASCII-only command text: bash's $'\xe9' makes the bytes.
    const command =
      "printf 'changed by the run\\n' >> caf$'\\xe9'.txt && printf 'also\\n' >> na$'\\xef've.txt";
    const server = await startFakeModelServer({
      scenario: [
        { name: "change", toolCalls: [{ name: "run_command", arguments: { command } }] },
        {
          name: "finish",
          toolCalls: [
            { name: "finish", arguments: { status: "done", summary: "Changed both.", files_changed: [] } },
          ],
        },
      ],
    });
    cleanups.push(
      () => server.close(),
      () => removeDir(home),
      () => removeDir(repo),
    );

    const run = await runCli(
      ["run", "Append a line to both notes", "--repo", repo, ...fakeModelArgs(server.baseUrl), "--json"],
      { env: cliEnv(home) },
    );
    assert.equal(run.code, 0, describeResult(run));
    const runId = String(jsonLines(run.stdout)[0]?.runId);
    const events = dbEvents(home, runId);

    // The command found both files in the workspace: nothing was left out of the copy.
    const ended = events.find((e) => e.type === "tool.call.ended");
    assert.equal(ended?.data.exitCode, 0, JSON.stringify(ended?.data));
    const workspace = join(home, "runs", runId, "workspace");
    assert.equal(readFileSync(at(workspace, COMMITTED), "utf8"), "committed\nchanged by the run\n");
    assert.equal(readFileSync(at(workspace, UNTRACKED), "utf8"), "untracked\nalso\n");

    // The log names them with their bytes intact (JSON keeps the escape), as the checkpoint's files.
    const diff = events.findLast((e) => e.type === "diff.ready");
    assert.ok(diff, "the run logged its diff");
    const changed = (diff.data.files as { path: string }[]).map((f) => encodePath(f.path).toString("hex"));
    assert.deepEqual(changed.sort(), [COMMITTED.toString("hex"), UNTRACKED.toString("hex")].sort());

    // People see the bytes as \xE9, not as a replacement character.
    const show = await runCli(["show", runId], { env: cliEnv(home) });
    assert.match(show.stdout, /caf\\xE9\.txt/);
    assert.match(show.stdout, /na\\xEFve\.txt/);
    assert.doesNotMatch(show.stdout, /\uFFFD/);

    const apply = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(apply.code, 0, describeResult(apply));
    assert.equal(readFileSync(at(repo, COMMITTED), "utf8"), "committed\nchanged by the run\n");
    assert.equal(readFileSync(at(repo, UNTRACKED), "utf8"), "untracked\nalso\n");
    assert.deepEqual(names(repo), before, "no file under another name appeared in the checkout");
  });
});

describe("what the workspace copy cannot take", () => {
  it("is listed in the run's log and shown, not dropped silently: nested repositories", async () => {
    const home = tempDir("left-out-home");
    const repo = makeSampleRepo();
    cleanups.push(
      () => removeDir(home),
      () => removeDir(repo),
    );
    execFileSync("git", ["init", "-q", join(repo, "vendor", "nested")]);
    writeFileSync(join(repo, "vendor", "nested", "lib.js"), "module.exports = 1;\n");
    execFileSync("git", ["init", "-q", join(repo, "tools", "other")]);
    const server = await startFakeModelServer({ scenario: [finishTurn] });
    cleanups.push(() => server.close());

    const result = await runCli(["run", "Look around", "--repo", repo, ...fakeModelArgs(server.baseUrl)], {
      env: cliEnv(home),
    });
    assert.equal(result.code, 0, describeResult(result));
    assert.match(result.stdout, /left out of the workspace: 2 path\(s\)/);
    assert.match(result.stdout, /vendor\/nested: nested git repository/);
    assert.match(result.stdout, /tools\/other: nested git repository/);
    const runId = /run (run_\w+)/.exec(result.stdout)?.[1] ?? "";
    const created = dbEvents(home, runId).find((e) => e.type === "run.created");
    assert.deepEqual((created!.data.leftOut as { path: string }[]).map((i) => i.path).sort(), [
      "tools/other",
      "vendor/nested",
    ]);
    const shown = await runCli(["show", runId], { env: cliEnv(home) });
    assert.match(shown.stdout, /left out of the workspace: 2 path\(s\)/);
  });
});
