import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { applyRecipe, makeWorldRepo, missingToolchain, runTests, WORLD_REPO_KINDS } from "./repos.ts";

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

for (const kind of WORLD_REPO_KINDS) {
  test(`${kind}: a committed repository whose test fails, still fails with the decoy, and passes with the fix`, async (t) => {
    const missing = missingToolchain(kind);
    if (missing) return missingDependency(t, `${kind}: ${missing}`);
    const repo = await makeWorldRepo(kind);
    made.push(repo.dir);
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo.dir, encoding: "utf8" });
    assert.equal(git("rev-list", "--count", "HEAD").trim(), "1");
    assert.equal(git("status", "--porcelain"), "", "node_modules and build output are git-ignored");
    if (kind === "mocha" || kind === "vitest") {
      assert.ok(
        lstatSync(join(repo.dir, "node_modules")).isDirectory(),
        "a real node_modules, not a symlink",
      );
      assert.ok(existsSync(join(repo.dir, "node_modules", kind, "package.json")));
    }

    const before = runTests(repo);
    assert.notEqual(before.exitCode, 0, `the test must fail before the fix:\n${before.output}`);

    applyRecipe(repo.dir, repo.recipe, repo.recipe.decoy);
    const decoyed = runTests(repo);
    assert.notEqual(decoyed.exitCode, 0, `the decoy must not fix it:\n${decoyed.output}`);

    applyRecipe(repo.dir, { ...repo.recipe, wrong: repo.recipe.decoy! }, repo.recipe.right);
    const fixed = runTests(repo);
    assert.equal(fixed.exitCode, 0, `the test must pass after the fix:\n${fixed.output}`);
  });
}
