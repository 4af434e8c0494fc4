import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createWorkspaceFixture, tempDir, type WorkspaceFixture } from "../../test/support/workspace.ts";

/**
 * A run that changed nothing ends with a final checkpoint, the diff against the baseline and HEAD: none
 * of them may start git (the copy was walked when `create` took the baseline), and any write after
 * `create`, however it kept size and mtime, must still show. Git processes are counted through a `git`
 * on PATH that logs and then runs the real git.
 */
describe("a workspace fresh from create, as a run that changes nothing ends it", () => {
  let log: string;
  const fixtures: WorkspaceFixture[] = [];
  const originalPath = process.env.PATH;
  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  const gitCalls = async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
  const fresh = async () => {
    const fx = await createWorkspaceFixture({
      files: { "src/a.ts": "export const a = 1;\n", "b.txt": "bee\n", ".gitignore": "build/\n" },
    });
    fixtures.push(fx);
    return fx;
  };

  before(async () => {
    const bin = (await tempDir()).path;
    log = path.join(bin, "git.log");
    await writeFile(path.join(bin, "git"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realGit}' "$@"\n`);
    await chmod(path.join(bin, "git"), 0o755);
    process.env.PATH = `${bin}:${originalPath}`;
  });
  after(async () => {
    process.env.PATH = originalPath;
    for (const fx of fixtures) await fx.cleanup();
  });

  it("creates the baseline with three git processes and ends with none", async () => {
    const start = (await gitCalls()).length;
    const { workspace } = await fresh();
    const created = (await gitCalls()).slice(start);
    // The fixture's own repository and the user-side listing first; then the shadow git: init,
    // fast-import (one pack, the commit, main and the baseline ref), reset (the index): no rev-parse, no
    // update-ref, no unpack-objects.
    const shadow = created.slice(created.findIndex((c) => c.includes("--shared=0600")));
    assert.deepEqual(shadow, [
      "init -q --template= --object-format=sha1 --initial-branch=main --shared=0600",
      "-c fastimport.unpackLimit=0 fast-import --quiet --done",
      "reset -q",
    ]);
    assert.equal(
      execFileSync("git", ["--git-dir", workspace.gitDir, "rev-parse", "refs/entourage/baseline"], {
        encoding: "utf8",
      }).trim(),
      workspace.baseRef,
    );
    const before_ = (await gitCalls()).length;
    assert.deepEqual(await workspace.changes(), { files: [], insertions: 0, deletions: 0 });
    assert.equal(await workspace.snapshot("final"), null);
    assert.equal(await workspace.diff(), "");
    assert.equal(await workspace.head(), workspace.baseRef);
    assert.deepEqual((await gitCalls()).slice(before_), [], "no git process");
  });

  it("shows a write made at once after create that kept the file's size and mtime", async () => {
    const { workspace } = await fresh();
    const file = path.join(workspace.dir, "b.txt");
    const { mtime } = await stat(file);
    await writeFile(file, "BEE\n"); // same size, within the timestamp tick of the copy
    await utimes(file, mtime, mtime);
    const changes = await workspace.changes();
    assert.deepEqual(
      changes.files.map((f) => f.path),
      ["b.txt"],
    );
    assert.deepEqual((await workspace.snapshot("tar x"))?.filesChanged, ["b.txt"]);
  });

  it("shows a new file, and a new file in an ignored folder is no change", async () => {
    const { workspace } = await fresh();
    await writeFile(path.join(workspace.dir, "c.txt"), "sea\n");
    assert.deepEqual(
      (await workspace.changes()).files.map((f) => [f.path, f.status]),
      [["c.txt", "added"]],
    );
    const other = (await fresh()).workspace;
    await mkdir(path.join(other.dir, "build"));
    await writeFile(path.join(other.dir, "build", "out.o"), "obj");
    assert.deepEqual((await other.changes()).files, []);
    assert.equal(await other.snapshot("make"), null);
  });

  it("lent to a sandbox uid (its chown stamps every ctime), still ends without git, and still sees a write", async () => {
    const { workspace } = await fresh();
    // What the sandbox does when it is created (as root, to its uid; here to ourselves: ctimes all the same).
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const file = path.join(workspace.dir, "src", "a.ts");
    const { ctimeMs, mtime } = await stat(file);
    await new Promise((resolve) => setTimeout(resolve, 30));
    execFileSync("chown", ["-R", "-P", `${owner.uid}:${owner.gid}`, "--", workspace.dir]);
    assert.notEqual((await stat(file)).ctimeMs, ctimeMs, "chown stamps ctimes");
    await workspace.lendTo(owner);
    const before_ = (await gitCalls()).length;
    assert.equal(await workspace.snapshot("cat README.md"), null);
    assert.deepEqual((await workspace.changes()).files, []);
    assert.deepEqual((await gitCalls()).slice(before_), [], "no git process");
    await writeFile(file, "export const a = 2;\n"); // same size, old mtime back
    await utimes(file, mtime, mtime);
    assert.deepEqual(
      (await workspace.changes()).files.map((f) => f.path),
      ["src/a.ts"],
    );
  });

  it("lent after a write it did not make, walks nothing as the baseline: the write shows", async () => {
    const { workspace } = await fresh();
    await writeFile(path.join(workspace.dir, "b.txt"), "changed, longer\n");
    await workspace.lendTo({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    assert.deepEqual(
      (await workspace.changes()).files.map((f) => f.path),
      ["b.txt"],
    );
  });
});
