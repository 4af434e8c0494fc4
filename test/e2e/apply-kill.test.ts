import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  BIN,
  cliEnv,
  jsonLines,
  removeDir,
  runCli,
  strayTempFiles,
  tempDir,
  worktreeHash,
} from "../helpers/cli.ts";
import { describeResult, fakeModelArgs } from "./support.ts";

/**
 * kill -9 during `entourage apply` of a ~2,100-file change, at random moments, 20 times; after each kill
 * the user runs `apply` again or `apply --abort` (alternately). Every time the checkout must end up either
 * exactly untouched or exactly fully applied (kinds, permission bits, bytes, symlink targets, directories),
 * with no temporary file left in it and no journal left pending. Half the kills come after a random delay
 * from the start (covering start-up, the checks and the journal), half at a random progress line (while
 * files are being written). The built CLI, a real git checkout, real SIGKILL.
 */
const ITERATIONS = 20;
const seed = Number(process.env.APPLY_KILL_SEED) || Date.now() % 1_000_000;

/** mulberry32: a seeded generator, so a failing sequence can be replayed with APPLY_KILL_SEED. */
function random(): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 20 folders of 100 files and a folder of 200 files the change deletes. */
function bigRepo(): string {
  const dir = tempDir("big-repo");
  for (let d = 0; d < 20; d++) {
    const sub = join(dir, `d${String(d).padStart(2, "0")}`);
    mkdirSync(sub);
    for (let f = 0; f < 100; f++)
      writeFileSync(join(sub, `f${String(f).padStart(3, "0")}.txt`), `${d}/${f}\n`);
  }
  mkdirSync(join(dir, "gone"));
  for (let f = 0; f < 200; f++) writeFileSync(join(dir, "gone", `g${f}.txt`), `gone ${f}\n`);
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial");
  return dir;
}

/** Edits 1,400 files, adds 500 in new folders, deletes 200 and their folder, flips exec bits, adds a symlink, turns a file into a folder. */
const CHANGE = [
  'for i in $(seq -w 0 13); do for f in d$i/*.txt; do echo changed >> "$f"; done; done',
  'for j in $(seq 0 9); do mkdir -p new/n$j; for k in $(seq 1 50); do echo "new $j $k" > new/n$j/f$k.txt; done; done',
  "rm -r gone",
  "chmod +x d15/f00*.txt",
  "ln -s ../d00/f000.txt d16/link.txt",
  "rm d17/f000.txt && mkdir d17/f000.txt && echo inner > d17/f000.txt/inner.txt",
].join(" && ");

describe("kill -9 during apply of a 2,100-file change", () => {
  let home: string;
  let repo: string;
  let runId: string;
  let untouched: string;
  let applied: string;
  let fullMs = 1000;
  const env = () => cliEnv(home);
  const git = (...a: string[]) => execFileSync("git", a, { cwd: repo, stdio: "pipe" });
  const reset = () => {
    git("reset", "-q", "--hard");
    git("clean", "-q", "-f", "-d");
    assert.equal(worktreeHash(repo), untouched, "the test's own reset did not restore the checkout");
  };
  const pendingJournals = () =>
    existsSync(join(home, "applies"))
      ? readdirSync(join(home, "applies")).filter((slot) =>
          existsSync(join(home, "applies", slot, "journal.json")),
        )
      : [];

  before(async () => {
    home = tempDir("home");
    repo = bigRepo();
    const server = await startFakeModelServer({
      scenario: [
        {
          name: "change",
          toolCalls: [{ name: "run_command", arguments: { command: CHANGE, timeout_seconds: 120 } }],
        },
        {
          name: "finish",
          toolCalls: [
            { name: "finish", arguments: { status: "done", summary: "Changed them.", files_changed: [] } },
          ],
        },
      ],
    });
    const run = await runCli(
      ["run", "Change many files", "--repo", repo, ...fakeModelArgs(server.baseUrl), "--no-verify", "--json"],
      { env: env(), timeoutMs: 180_000 },
    );
    await server.close();
    assert.equal(run.code, 0, describeResult(run));
    runId = String(jsonLines(run.stdout)[0]?.runId);
    untouched = worktreeHash(repo);
  });
  after(() => {
    removeDir(home);
    removeDir(repo);
  });

  it("an uninterrupted apply writes it all: the reference 'fully applied' tree", async (t) => {
    const started = performance.now();
    const result = await runCli(["apply", runId, "--accept-risky"], { env: env() });
    fullMs = performance.now() - started;
    t.diagnostic(`uninterrupted apply, whole CLI process: ${Math.round(fullMs)} ms`);
    assert.equal(result.code, 0, describeResult(result));
    const count = Number(/Applied (\d+) files/.exec(result.stdout)?.[1]);
    assert.ok(count > 2000, `only ${count} files in the change`);
    assert.match(result.stderr, /applying: \d+ of \d+ files/);
    applied = worktreeHash(repo);
    assert.notEqual(applied, untouched);
    assert.deepEqual(strayTempFiles(repo), []);
    assert.deepEqual(pendingJournals(), []);
    reset();
  });

  it(`${ITERATIONS} kills at random moments: untouched or fully applied every time, never anything between`, async (t) => {
    assert.ok(applied, "needs the reference tree");
    const next = random();
    const seen = {
      interrupted: 0,
      strayTemps: 0,
      finished: 0,
      rolledBack: 0,
      killedBeforeJournal: 0,
      killedAfterDone: 0,
    };
    for (let i = 0; i < ITERATIONS; i++) {
      const byProgress = i % 4 >= 2;
      await applyAndKill(
        env(),
        runId,
        byProgress ? { atLine: 1 + Math.floor(next() * 9) } : { afterMs: next() * fullMs },
      );
      const label = `iteration ${i} (seed ${seed}, ${byProgress ? "at a progress line" : "after a delay"})`;
      if (pendingJournals().length > 0) seen.interrupted++;
      if (strayTempFiles(repo).length > 0) seen.strayTemps++;

      if (i % 2 === 0) {
        const again = await runCli(["apply", runId, "--accept-risky"], { env: env() });
        if (again.code === 0) {
          if (/Finished the interrupted apply/.test(again.stdout)) seen.finished++;
        } else {
          assert.equal(again.code, 2, `${label}: ${describeResult(again)}`);
          assert.match(again.stderr, /already applied/, `${label}: ${again.stderr}`);
          seen.killedAfterDone++;
        }
        assert.equal(
          worktreeHash(repo),
          applied,
          `${label}: apply again did not leave the change fully applied`,
        );
      } else {
        const abort = await runCli(["apply", "--abort", runId], { env: env() });
        const now = worktreeHash(repo);
        if (abort.code === 0) {
          assert.match(abort.stdout, /Rolled back the interrupted apply/);
          assert.equal(now, untouched, `${label}: --abort did not restore the checkout exactly`);
          seen.rolledBack++;
        } else {
          assert.equal(abort.code, 2, `${label}: ${describeResult(abort)}`);
          assert.match(abort.stderr, /No interrupted apply/);
          assert.ok(
            now === untouched || now === applied,
            `${label}: nothing pending, yet the checkout is half-applied`,
          );
          if (now === untouched) seen.killedBeforeJournal++;
          else seen.killedAfterDone++;
        }
      }
      assert.deepEqual(strayTempFiles(repo), [], `${label}: temporary files left in the checkout`);
      assert.deepEqual(pendingJournals(), [], `${label}: a journal is still pending`);
      if (worktreeHash(repo) !== untouched) reset();
    }
    t.diagnostic(`seed ${seed}: ${JSON.stringify(seen)}`);
  });
});

/** Starts `apply` and SIGKILLs it after `afterMs`, or when it prints its `atLine`-th progress line. */
function applyAndKill(
  env: Record<string, string>,
  runId: string,
  when: { afterMs: number } | { atLine: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "apply", runId, "--accept-risky"], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let lines = 0;
    const timer = "afterMs" in when ? setTimeout(() => child.kill("SIGKILL"), when.afterMs) : undefined;
    if (!("afterMs" in when))
      child.stderr.on("data", (chunk: Buffer) => {
        lines += chunk
          .toString()
          .split("\n")
          .filter((l) => l.startsWith("applying:")).length;
        if (lines >= when.atLine) child.kill("SIGKILL");
      });
    child.stderr.resume();
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}
