import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_DEPENDENCY_DIRS, findDependencyDirs } from "./dependency-dirs.ts";
import { runGit, userGitEnv } from "./git.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function repo(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "entourage-deps-"));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  await runGit(["init", "-q"], { cwd: dir, env: userGitEnv() });
  return dir;
}

describe("findDependencyDirs", () => {
  it("finds git-ignored dependency folders at any depth, not the ones inside them", async () => {
    const dir = await repo({
      ".gitignore": "node_modules/\ntarget\n.venv\nbuild/\n",
      "package.json": "{}",
      "node_modules/a/index.js": "",
      "node_modules/a/node_modules/b/index.js": "",
      "packages/p/package.json": "{}",
      "packages/p/node_modules/x/index.js": "",
      "tools/only-deps/node_modules/y/index.js": "",
      "crate/src/main.rs": "",
      "crate/target/debug/app": "",
      "py/.venv/bin/python": "",
      "build/node_modules/z.js": "",
    });
    assert.deepEqual(await findDependencyDirs(dir, DEFAULT_DEPENDENCY_DIRS), [
      "crate/target",
      "node_modules",
      "packages/p/node_modules",
      "py/.venv",
      "tools/only-deps/node_modules",
    ]);
  });

  it("never returns a folder git does not ignore, a symlink, or anything when the list is empty", async () => {
    const dir = await repo({
      ".gitignore": "ignored-link\n",
      "vendor/lib.go": "package lib\n",
      "node_modules/not-ignored.js": "",
    });
    symlinkSync(path.join(dir, "vendor"), path.join(dir, "ignored-link"));
    assert.deepEqual(await findDependencyDirs(dir, [...DEFAULT_DEPENDENCY_DIRS, "ignored-link"]), []);
    const ignored = await repo({ ".gitignore": "node_modules/\n", "node_modules/a.js": "" });
    assert.deepEqual(await findDependencyDirs(ignored, []), []);
    assert.deepEqual(await findDependencyDirs(ignored, ["vendor"]), []);
  });
});
