import assert from "node:assert/strict";
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, jsonLines, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { describeResult, editTurn, fakeModelArgs, finishTurn, readTurn } from "./support.ts";

/**
 * Nothing under ENTOURAGE_HOME is readable by other users, whatever the umask: a real CLI run under umask
 * 022 (the usual default, which makes files 0644 and directories 0755) leaves only 0700 directories and
 * files with the owner's bits alone; a home an older version left open is tightened on start and `doctor`
 * says so.
 */

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Every entry below `dir` (never following symlinks) whose mode lets group or others in. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const info = lstatSync(path);
    if (info.isSymbolicLink()) return;
    if ((info.mode & 0o077) !== 0) found.push(`${path} ${(info.mode & 0o777).toString(8)}`);
    if (info.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return found;
}

function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  return fn().finally(() => process.umask(previous));
}

describe("a private ENTOURAGE_HOME", () => {
  const commandTurn = {
    name: "a command that creates files",
    toolCalls: [
      {
        name: "run_command",
        arguments: { command: "mkdir -p out/deep && echo made > out/deep/by-command.txt" },
      },
    ],
  };
  for (const sandbox of ["subprocess", "bwrap"]) {
    it(`a real run under umask 022 (${sandbox} sandbox) creates only private files and directories: event log, -wal/-shm, workspace and what its commands create, shadow git, server files`, async () => {
      const home = tempDir("private-home");
      const repo = makeSampleRepo();
      const server = await startFakeModelServer({ scenario: [readTurn, commandTurn, editTurn, finishTurn] });
      cleanups.push(
        () => server.close(),
        () => removeDir(home),
        () => removeDir(repo),
      );
      removeDir(home); // the run creates it
      const result = await withUmask(0o022, () =>
        runCli(
          [
            "run",
            "Fix the failing tests",
            "--repo",
            repo,
            ...fakeModelArgs(server.baseUrl),
            "--sandbox",
            sandbox,
            "--json",
          ],
          { env: cliEnv(home) },
        ),
      );
      assert.equal(result.code, 0, describeResult(result));
      const runId = String(jsonLines(result.stdout)[0]?.runId);
      const names = readdirSync(home);
      // (-wal and -shm are gone once the last connection closes; test/store/private-files.test.ts checks them live.)
      for (const name of ["entourage.db", "runs", "servers", "token"]) {
        assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
      }
      for (const sub of ["workspace", "shadow.git"]) {
        assert.ok(readdirSync(join(home, "runs", runId, sub)).length > 0, `${sub} holds the run's files`);
      }
      assert.equal(lstatSync(home).mode & 0o777, 0o700);
      assert.equal(lstatSync(join(home, "entourage.db")).mode & 0o777, 0o600);
      assert.equal(lstatSync(join(home, "runs", runId, "workspace", "src", "date.js")).mode & 0o777, 0o600);
      const made = join(home, "runs", runId, "workspace", "out", "deep", "by-command.txt");
      assert.equal(lstatSync(made).mode & 0o777, 0o600, "a file the agent's command created");
      assert.deepEqual(openToOthers(home), []);
      // The user's checkout keeps the user's modes: only Entourage's own files are private.
      assert.equal(lstatSync(join(repo, "src", "date.js")).mode & 0o777, 0o644);
    });
  }

  it("a home left open by an older version is tightened on start, and doctor reports it", async () => {
    const home = tempDir("loose-home");
    cleanups.push(() => removeDir(home));
    chmodSync(home, 0o755);
    writeFileSync(join(home, "config.json"), "{}\n", { mode: 0o644 });
    mkdirSync(join(home, "runs", "run_old", "workspace"), { recursive: true, mode: 0o755 });
    chmodSync(join(home, "runs"), 0o755);
    chmodSync(join(home, "runs", "run_old"), 0o755);
    chmodSync(join(home, "runs", "run_old", "workspace"), 0o755);
    writeFileSync(join(home, "runs", "run_old", "workspace", "notes.txt"), "secret\n", { mode: 0o644 });

    const doctor = await withUmask(0o022, () => runCli(["doctor", "--json"], { env: cliEnv(home) }));
    assert.equal(doctor.code, 0, describeResult(doctor));
    const report = JSON.parse(doctor.stdout).home as {
      path: string;
      madePrivate: { path: string; was: string }[];
      stillOpen: unknown[];
    };
    assert.equal(report.path, home);
    assert.deepEqual(
      report.madePrivate.map((p) => [p.path.slice(home.length), p.was]).sort(),
      [
        ["", "0755"],
        ["/config.json", "0644"],
        ["/runs", "0755"],
        ["/runs/run_old", "0755"],
        ["/runs/run_old/workspace", "0755"],
      ].sort(),
    );
    assert.deepEqual(report.stillOpen, []);
    assert.equal(lstatSync(home).mode & 0o777, 0o700);
    assert.equal(lstatSync(join(home, "config.json")).mode & 0o777, 0o600);
    // Deeper files are out of reach now: every directory above them is 0700.
    assert.equal(lstatSync(join(home, "runs", "run_old", "workspace")).mode & 0o777, 0o700);

    const again = await runCli(["doctor"], { env: cliEnv(home) });
    assert.match(again.stdout, /home .*: private \(directories 0700, files 0600\)/);
  });
});
