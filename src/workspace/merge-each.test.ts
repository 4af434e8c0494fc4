import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, lstat, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createWorkspaceFixture, tempDir, type WorkspaceFixture } from "../../test/support/workspace.ts";
import type { Workspace } from "./index.ts";

const TEN_LINES = `${Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\n")}\n`;

/**
 * The copies of one parallel delegation merged back together: the same files, history and reports as
 * merging them one after another, with a handful of git processes when they touched separate paths,
 * and conflicts still reported (and not written) when they did not.
 */
describe("Workspace.mergeEach", () => {
  let fx: WorkspaceFixture;
  let base: string;
  let copies: Workspace[];
  const shadowGit = (args: string[]) =>
    execFileSync("git", args, {
      cwd: fx.workspace.dir,
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        HOME: fx.base,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_DIR: fx.workspace.gitDir,
        GIT_WORK_TREE: fx.workspace.dir,
      },
    }).trim();
  beforeEach(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "a.txt": "a\n",
        "ten.txt": TEN_LINES,
        "gone.txt": "delete me\n",
        "run.sh": { content: "#!/bin/sh\n", mode: 0o644 },
      },
    });
    base = (await fx.workspace.snapshot("before the copies"))?.ref ?? (await fx.workspace.head());
    copies = [];
    for (const name of ["one", "two", "three"]) {
      copies.push(await fx.workspace.cloneAt(base, path.join(fx.base, name, "ws"), { shareObjects: true }));
    }
  });
  afterEach(() => fx.cleanup());

  it("takes copies that changed separate paths in one go, one merge snapshot each, in order", async () => {
    const [one, two, three] = copies as [Workspace, Workspace, Workspace];
    // A copy's files are private like the run's (written under umask 077, no chmod afterwards).
    assert.equal((await stat(path.join(one.dir, "a.txt"))).mode & 0o777, 0o600);
    await one.writeText("src/new/one.txt", "from one\n");
    await one.snapshot("one, step 1");
    await rm(path.join(one.dir, "gone.txt"));
    const oneHead = (await one.snapshot("one, step 2"))!.ref;
    await two.writeText("a.txt", "a from two\n");
    await chmod(path.join(two.dir, "run.sh"), 0o700);
    const twoHead = (await two.snapshot("two"))!.ref;
    // three reads only: nothing to merge.

    const gitLog = await countingGit();
    const results = await fx.workspace.mergeEach(
      [
        { workspace: one, label: "merge one" },
        { workspace: two, label: "merge two" },
        { workspace: three, label: "merge three" },
      ],
      { base },
    );
    const processes = await gitLog.stop();
    assert.deepEqual(
      results.map((r) => [r.merged, r.conflicts, r.snapshot?.filesChanged ?? null]),
      [
        [["gone.txt", "src/new/one.txt"], [], ["gone.txt", "src/new/one.txt"]],
        [["a.txt", "run.sh"], [], ["a.txt", "run.sh"]],
        [[], [], null],
      ],
    );
    // Files as both copies left them; new directories and files private.
    assert.equal(await readFile(path.join(fx.workspace.dir, "src", "new", "one.txt"), "utf8"), "from one\n");
    assert.equal(await readFile(path.join(fx.workspace.dir, "a.txt"), "utf8"), "a from two\n");
    await assert.rejects(lstat(path.join(fx.workspace.dir, "gone.txt")), { code: "ENOENT" });
    assert.equal((await stat(path.join(fx.workspace.dir, "run.sh"))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(fx.workspace.dir, "src", "new"))).mode & 0o077, 0);
    // History: base → merge one (parents: base, one's head) → merge two (parents: merge one, two's head).
    const [first, second] = [results[0]!.snapshot!.ref, results[1]!.snapshot!.ref];
    assert.equal(await fx.workspace.head(), second);
    assert.equal(shadowGit(["rev-parse", `${first}^1`, `${first}^2`]), `${base}\n${oneHead}`);
    assert.equal(shadowGit(["rev-parse", `${second}^1`, `${second}^2`]), `${first}\n${twoHead}`);
    assert.equal(shadowGit(["log", "-1", "--format=%s", second]), "merge two");
    assert.equal(shadowGit(["status", "--porcelain"]), "", "index and files match HEAD");
    assert.equal(shadowGit(["for-each-ref", "refs/entourage/merging"]), "", "no scratch ref left");
    assert.ok(
      processes.length <= 10,
      `a handful of git processes, not a dozen per copy: ${processes.join("; ")}`,
    );
    // Rewind to the first merge and forward again: every object is in the run's own git.
    await fx.workspace.restore(first);
    assert.equal(await readFile(path.join(fx.workspace.dir, "a.txt"), "utf8"), "a\n");
    await fx.workspace.restore(second);
    assert.equal(await readFile(path.join(fx.workspace.dir, "a.txt"), "utf8"), "a from two\n");
  });

  it("merges copies that touched the same file one by one: line-wise when clean, a conflict otherwise", async () => {
    const [one, two, three] = copies as [Workspace, Workspace, Workspace];
    await one.writeText("ten.txt", TEN_LINES.replace("line 2\n", "line 2 by one\n"));
    await one.snapshot("one");
    await two.writeText("ten.txt", TEN_LINES.replace("line 9\n", "line 9 by two\n"));
    await two.snapshot("two");
    await three.writeText("ten.txt", TEN_LINES.replace("line 2\n", "line 2 by three\n"));
    await three.writeText("a.txt", "a from three\n");
    await three.snapshot("three");

    const [r1, r2, r3] = await fx.workspace.mergeEach(
      [one, two, three].map((workspace, i) => ({ workspace, label: `merge ${i + 1}` })),
      { base },
    );
    assert.deepEqual(r1!.merged, ["ten.txt"]);
    assert.deepEqual(r2!.merged, ["ten.txt"]);
    assert.deepEqual(r2!.conflicts, []);
    assert.deepEqual(r3!.merged, ["a.txt"]);
    assert.deepEqual(
      r3!.conflicts.map((c) => [c.path, c.reason]),
      [["ten.txt", "both sides changed the same lines"]],
    );
    assert.match(r3!.conflicts[0]!.theirs ?? "", /line 2 by three/);
    // The workspace keeps what was merged before the conflict; three's version is not written.
    const ten = await readFile(path.join(fx.workspace.dir, "ten.txt"), "utf8");
    assert.match(ten, /line 2 by one\n/);
    assert.match(ten, /line 9 by two\n/);
    assert.doesNotMatch(ten, /by three|<<<<<<</);
    assert.equal(await readFile(path.join(fx.workspace.dir, "a.txt"), "utf8"), "a from three\n");
  });

  it("knows the files are the last merge's: the next checkpoint starts no git, a write after it is still taken", async () => {
    const [one, two] = copies as [Workspace, Workspace];
    await one.writeText("src/new/one.txt", "from one\n");
    await one.snapshot("one");
    await two.writeText("a.txt", "a from two\n");
    await two.snapshot("two");
    const [, second] = await fx.workspace.mergeEach(
      [
        { workspace: one, label: "merge one" },
        { workspace: two, label: "merge two" },
      ],
      { base },
    );
    const gitLog = await countingGit();
    assert.equal(await fx.workspace.snapshot("the planner's step"), null, "nothing changed since the merge");
    const changes = await fx.workspace.changes();
    assert.deepEqual((await gitLog.stop()).sort(), ["diff"], "one diff of two commits, no add -A or commit");
    assert.deepEqual(
      changes.files.map((f) => [f.path, f.status]),
      [
        ["a.txt", "modified"],
        ["src/new/one.txt", "added"],
      ],
    );
    assert.equal(await fx.workspace.head(), second!.snapshot!.ref);
    // Written right away, same size: its stat cannot tell (racy), its bytes do.
    await writeFile(path.join(fx.workspace.dir, "a.txt"), "A FROM TWO\n");
    assert.deepEqual((await fx.workspace.snapshot("a command"))?.filesChanged, ["a.txt"]);
    await writeFile(path.join(fx.workspace.dir, "src", "new", "one.txt"), "FROM ONE\n");
    assert.deepEqual(
      (await fx.workspace.changes()).files.map((f) => f.path),
      ["a.txt", "src/new/one.txt"],
    );
  });

  it("merges copies correctly when the run took a snapshot of its own after they were made", async () => {
    const [one, two] = copies as [Workspace, Workspace];
    await fx.workspace.writeText("own.txt", "the run's own\n");
    await fx.workspace.snapshot("the run's step");
    await one.writeText("a.txt", "a from one\n");
    await one.snapshot("one");
    await two.writeText("b.txt", "b from two\n");
    await two.snapshot("two");
    const results = await fx.workspace.mergeEach(
      [
        { workspace: one, label: "merge one" },
        { workspace: two, label: "merge two" },
      ],
      { base },
    );
    assert.deepEqual(
      results.map((r) => [r.merged, r.conflicts]),
      [
        [["a.txt"], []],
        [["b.txt"], []],
      ],
    );
    for (const [file, text] of [
      ["own.txt", "the run's own\n"],
      ["a.txt", "a from one\n"],
      ["b.txt", "b from two\n"],
    ])
      assert.equal(await readFile(path.join(fx.workspace.dir, file!), "utf8"), text);
    assert.equal(shadowGit(["status", "--porcelain"]), "", "index and files match HEAD");
  });

  it("takes nothing and starts no merge when no copy changed anything", async () => {
    const results = await fx.workspace.mergeEach(
      copies.map((workspace) => ({ workspace })),
      { base },
    );
    assert.deepEqual(
      results.map((r) => r.snapshot),
      [null, null, null],
    );
    assert.equal(await fx.workspace.head(), base);
  });
});

/** Counts the git processes started from now on, through a `git` on PATH that logs and runs the real one. */
async function countingGit(): Promise<{ stop(): Promise<string[]> }> {
  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  const bin = (await tempDir()).path;
  const log = path.join(bin, "git.log");
  await writeFile(path.join(bin, "git"), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${realGit}' "$@"\n`);
  await chmod(path.join(bin, "git"), 0o755);
  const originalPath = process.env.PATH;
  process.env.PATH = `${bin}:${originalPath}`;
  return {
    async stop() {
      process.env.PATH = originalPath;
      return (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
    },
  };
}
