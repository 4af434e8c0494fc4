import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { applyTestPatch, freshCheckout, patchedFiles } from "./checkout.ts";

const dir = mkdtempSync(path.join(tmpdir(), "entourage-checkout-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" },
  });

/** A repository at `base` and the test patch that a later commit made (as SWE-bench takes it). */
function repoWithPatch(): { repo: string; base: string; patch: string } {
  const repo = path.join(dir, "repo");
  mkdirSync(path.join(repo, "tests"), { recursive: true });
  writeFileSync(path.join(repo, "tests", "a.txt"), "one\ntwo\n");
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "base");
  const base = git(repo, "rev-parse", "HEAD").trim();
  writeFileSync(path.join(repo, "tests", "a.txt"), "one\ntwo\nthree\n");
  writeFileSync(path.join(repo, "tests", "new.txt"), "hidden test\n");
  git(repo, "add", "-A");
  const patch = git(repo, "diff", "--cached");
  git(repo, "commit", "-q", "-m", "tests");
  return { repo, base, patch };
}

describe("applyTestPatch", () => {
  const { repo, base, patch } = repoWithPatch();

  it("puts the files it touches back as they were at base, then applies it: edited tests cannot vouch", async () => {
    const judge = path.join(dir, "judge");
    await freshCheckout(repo, base, judge);
    assert.equal(readFileSync(path.join(judge, "tests", "a.txt"), "utf8"), "one\ntwo\n");
    // What a run's change did to the tests: rewrote one, added the file the patch adds.
    writeFileSync(path.join(judge, "tests", "a.txt"), "agrees with the bug\n");
    writeFileSync(path.join(judge, "tests", "new.txt"), "a test that passes\n");
    await applyTestPatch(judge, base, patch);
    assert.equal(readFileSync(path.join(judge, "tests", "a.txt"), "utf8"), "one\ntwo\nthree\n");
    assert.equal(readFileSync(path.join(judge, "tests", "new.txt"), "utf8"), "hidden test\n");
  });

  it("says why when the patch does not apply", async () => {
    const judge = path.join(dir, "judge-2");
    await freshCheckout(repo, base, judge);
    await assert.rejects(
      applyTestPatch(judge, base, "not a patch"),
      /git apply --numstat failed: error: No valid patches/,
    );
  });

  it("lists the paths of `git apply --numstat -z`, renames as both names", () => {
    assert.deepEqual(patchedFiles("1\t0\ttests/a.txt\x002\t1\t\x00old name.txt\x00new name.txt\x00"), [
      "tests/a.txt",
      "old name.txt",
      "new name.txt",
    ]);
  });
});
