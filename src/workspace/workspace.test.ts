import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createRepo,
  createWorkspaceFixture,
  tempDir,
  testGit,
  type WorkspaceFixture,
} from "../../test/support/workspace.ts";
import { UserError } from "../core/index.ts";
import { Workspace } from "./index.ts";

/** Everything about a directory tree a user could notice, `.git` included: kinds, modes, bytes, mtimes. */
async function treeDigest(root: string): Promise<string> {
  const lines: string[] = [];
  for (const entry of (await readdir(root, { recursive: true, withFileTypes: true })).sort((a, b) =>
    path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)),
  )) {
    const file = path.join(entry.parentPath, entry.name);
    const info = await lstat(file);
    const rel = path.relative(root, file);
    if (entry.isSymbolicLink()) lines.push(`${rel} link ${await readlink(file)}`);
    else if (entry.isFile()) {
      const hash = createHash("sha1")
        .update(await readFile(file))
        .digest("hex");
      lines.push(`${rel} ${info.mode.toString(8)} ${hash} ${info.mtimeMs}`);
    } else lines.push(`${rel} dir ${info.mode.toString(8)}`);
  }
  return lines.join("\n");
}

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0x00, 0x10,
]);

describe("Workspace.create", () => {
  let fx: WorkspaceFixture;
  let before_: string;

  before(async () => {
    const base = await tempDir();
    const repo = await createRepo(path.join(base.path, "repo"), {
      files: {
        ".gitignore": "node_modules/\n*.log\n",
        "src/a.ts": "export const a = 1;\n",
        "bin/run.sh": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        "crlf.txt": "one\r\ntwo\r\n",
        "link-in": { symlink: "src/a.ts" },
        "link-out": { symlink: "/etc/passwd" },
        "image.png": PNG,
      },
      untracked: {
        "notes.md": "untracked but not ignored\n",
        "debug.log": "ignored\n",
        "node_modules/dep/index.js": "ignored\n",
      },
    });
    before_ = await treeDigest(repo);
    const workspace = await Workspace.create({
      repo,
      dir: path.join(base.path, "run", "workspace"),
      clock: () => 0,
    });
    fx = { base: base.path, repo, workspace, cleanup: base.cleanup };
  });
  after(() => fx.cleanup());

  it("copies tracked and untracked-not-ignored files, never ignored ones or .git", async () => {
    const files = await fx.workspace.list();
    assert.deepEqual(files, [
      ".gitignore",
      "bin/run.sh",
      "crlf.txt",
      "image.png",
      "link-in",
      "link-out",
      "notes.md",
      "src/a.ts",
    ]);
    const top = await readdir(fx.workspace.dir);
    assert.ok(!top.includes(".git"));
    assert.ok(!top.includes("node_modules"));
    assert.ok(!top.includes("debug.log"));
  });

  it("copies bytes, modes and symlinks as symlinks", async () => {
    const dir = fx.workspace.dir;
    assert.deepEqual(await readFile(path.join(dir, "image.png")), PNG);
    assert.equal(await readFile(path.join(dir, "crlf.txt"), "utf8"), "one\r\ntwo\r\n");
    // Executable stays executable; the copy is private to the user (0755 in the checkout → 0700).
    assert.equal((await stat(path.join(dir, "bin/run.sh"))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(dir, "crlf.txt"))).mode & 0o777, 0o600);
    assert.equal(await readlink(path.join(dir, "link-out")), "/etc/passwd");
    assert.equal(await readlink(path.join(dir, "link-in")), "src/a.ts");
  });

  it("leaves the user's checkout byte-identical, .git included, through create, snapshot, diff and restore", async () => {
    await fx.workspace.writeText("src/a.ts", "export const a = 2;\n");
    await fx.workspace.snapshot("edit");
    await fx.workspace.diff();
    await fx.workspace.restore(fx.workspace.baseRef);
    assert.equal(await treeDigest(fx.repo), before_);
  });

  it("keeps the shadow git outside the workspace and records the baseline", async () => {
    assert.equal(path.dirname(fx.workspace.gitDir), path.dirname(fx.workspace.dir));
    assert.match(fx.workspace.baseRef, /^[0-9a-f]{40}$/);
    assert.equal(await fx.workspace.head(), fx.workspace.baseRef);
    const { stdout } = await testGit(fx.repo, ["log", "--oneline"]);
    assert.equal(stdout.toString().trim().split("\n").length, 1, "the user's history is untouched");
  });
});

describe("Workspace errors", () => {
  it("refuses a directory that is not a git work tree, saying what to do", async () => {
    const base = await tempDir();
    try {
      await mkdir(path.join(base.path, "plain"));
      await assert.rejects(
        Workspace.create({ repo: path.join(base.path, "plain"), dir: path.join(base.path, "ws") }),
        (error: unknown) =>
          UserError.isInstance(error) && error.code === "not_a_git_repo" && /git init/.test(error.message),
      );
      await assert.rejects(
        Workspace.create({ repo: path.join(base.path, "missing"), dir: path.join(base.path, "ws") }),
        (error: unknown) => UserError.isInstance(error) && error.code === "repo_not_found",
      );
      await assert.rejects(stat(path.join(base.path, "ws")), "a failed create leaves nothing behind");
    } finally {
      await base.cleanup();
    }
  });

  it("refuses a workspace inside the user's checkout", async () => {
    const base = await tempDir();
    try {
      const repo = await createRepo(path.join(base.path, "repo"), { files: { a: "a\n" } });
      await assert.rejects(
        Workspace.create({ repo, dir: path.join(repo, ".entourage", "ws") }),
        (error: unknown) => UserError.isInstance(error) && error.code === "workspace_inside_repo",
      );
      await assert.rejects(stat(path.join(repo, ".entourage")));
    } finally {
      await base.cleanup();
    }
  });

  it("skips submodules and nested repositories with a note", async () => {
    const base = await tempDir();
    try {
      const repo = await createRepo(path.join(base.path, "repo"), { files: { a: "a\n" } });
      await createRepo(path.join(repo, "vendor", "lib"), { files: { "x.c": "int x;\n" } });
      const ws = await Workspace.create({ repo, dir: path.join(base.path, "run", "ws") });
      assert.deepEqual(ws.skipped, [{ path: "vendor/lib", reason: "nested git repository (not copied)" }]);
      assert.deepEqual(await ws.list(), ["a"]);
    } finally {
      await base.cleanup();
    }
  });
});

describe("unusual project files", () => {
  it("keeps odd names and tracked-but-ignored files in the baseline, and snapshots their changes", async () => {
    const base = await tempDir();
    try {
      const repo = await createRepo(path.join(base.path, "repo"), {
        files: {
          ".gitignore": "*.log\n",
          '"quoted".txt': "q\n",
          "line\nbreak.txt": "n\n",
          "sp ace.txt": "s\n",
        },
      });
      await writeFile(path.join(repo, "kept.log"), "tracked although ignored\n");
      await testGit(repo, ["add", "-f", "kept.log"]);
      await testGit(repo, ["commit", "-q", "-m", "force-add"]);
      const ws = await Workspace.create({ repo, dir: path.join(base.path, "run", "ws") });
      assert.deepEqual(await ws.list(), [
        '"quoted".txt',
        ".gitignore",
        "kept.log",
        "line\nbreak.txt",
        "sp ace.txt",
      ]);
      assert.equal(await ws.snapshot("nothing yet"), null);
      await ws.writeText("kept.log", "changed\n");
      await ws.writeText("line\nbreak.txt", "changed\n");
      assert.deepEqual((await ws.snapshot("edit"))?.filesChanged.sort(), ["kept.log", "line\nbreak.txt"]);
    } finally {
      await base.cleanup();
    }
  });
});

describe("snapshots, diff and changes", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    fx = await createWorkspaceFixture({
      files: { "src/a.ts": "line 1\nline 2\nline 3\n", "old.txt": "going away\n", ".gitignore": "dist/\n" },
    });
  });
  after(() => fx.cleanup());

  it("returns null when nothing changed", async () => {
    assert.equal(await fx.workspace.snapshot("nothing"), null);
  });

  it("captures files changed by shell commands, not only by tools", async () => {
    const dir = fx.workspace.dir;
    // What a command in the sandbox does: plain filesystem writes the workspace never saw.
    await writeFile(path.join(dir, "generated.txt"), "made by a script\n");
    await unlink(path.join(dir, "old.txt"));
    await mkdir(path.join(dir, "dist"));
    await writeFile(path.join(dir, "dist", "bundle.js"), "ignored output\n");
    const snap = await fx.workspace.snapshot("after command");
    assert.ok(snap);
    assert.match(snap.ref, /^[0-9a-f]{40}$/);
    assert.deepEqual(snap.filesChanged, ["generated.txt", "old.txt"]);
    assert.equal(await fx.workspace.head(), snap.ref);
  });

  it("diffs the baseline against the current files and summarizes the change", async () => {
    await fx.workspace.writeText("src/a.ts", "line 1\nline two\nline 3\n");
    const text = await fx.workspace.diff();
    assert.match(text, /^diff --git a\/src\/a.ts b\/src\/a.ts$/m);
    assert.match(text, /^-line 2$/m);
    assert.match(text, /^\+line two$/m);
    assert.match(text, /^\+\+\+ b\/generated.txt$/m);
    assert.match(text, /^deleted file mode 100644$/m);
    assert.deepEqual(await fx.workspace.changes(), {
      files: [
        { path: "generated.txt", status: "added" },
        { path: "old.txt", status: "deleted" },
        { path: "src/a.ts", status: "modified" },
      ],
      insertions: 2,
      deletions: 2,
    });
  });

  it("diffs between two snapshots and shows binary files as binary", async () => {
    const first = await fx.workspace.snapshot("text edit");
    assert.ok(first);
    await fx.workspace.writeText("logo.png", PNG);
    const second = await fx.workspace.snapshot("binary");
    assert.ok(second);
    const text = await fx.workspace.diff({ from: first.ref, to: second.ref });
    assert.match(text, /Binary files \/dev\/null and b\/logo.png differ/);
    assert.doesNotMatch(text, /src\/a.ts/);
    const changes = await fx.workspace.changes({ from: first.ref, to: second.ref });
    assert.deepEqual(changes, {
      files: [{ path: "logo.png", status: "added", binary: true }],
      insertions: 0,
      deletions: 0,
    });
  });

  it("restores a snapshot, removing files created after it and keeping ignored ones", async () => {
    const dir = fx.workspace.dir;
    await writeFile(path.join(dir, "scratch.txt"), "later\n");
    await fx.workspace.restore(fx.workspace.baseRef);
    assert.deepEqual(await fx.workspace.list(), [".gitignore", "old.txt", "src/a.ts"]);
    assert.equal(await readFile(path.join(dir, "src/a.ts"), "utf8"), "line 1\nline 2\nline 3\n");
    assert.equal(await readFile(path.join(dir, "dist/bundle.js"), "utf8"), "ignored output\n");
    assert.deepEqual((await fx.workspace.changes()).files, []);
  });

  it("refuses unknown refs and option-like refs", async () => {
    for (const ref of ["deadbeef", "--output=/tmp/x", "HEAD;rm"]) {
      await assert.rejects(
        fx.workspace.diff({ from: ref }),
        (e: unknown) => UserError.isInstance(e) && e.code === "unknown_ref",
      );
    }
  });

  it("re-opens from disk in another process's shoes", async () => {
    await fx.workspace.writeText("src/b.ts", "b\n");
    const snap = await fx.workspace.snapshot("add b");
    const reopened = await Workspace.open(fx.workspace.dir);
    assert.equal(reopened.baseRef, fx.workspace.baseRef);
    assert.equal(reopened.repo, fx.workspace.repo);
    assert.equal(await reopened.head(), snap?.ref);
    assert.deepEqual(
      (await reopened.changes()).files.map((f) => f.path),
      ["src/b.ts"],
    );
  });

  it("reports a directory that is not a workspace", async () => {
    await assert.rejects(
      Workspace.open(path.join(fx.base, "nowhere", "ws")),
      (e: unknown) => UserError.isInstance(e) && e.code === "workspace_not_found",
    );
  });
});

describe("list", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    fx = await createWorkspaceFixture({
      files: {
        ".gitignore": "build/\n",
        ".github/workflows/ci.yml": "on: push\n",
        "src/a.ts": "a\n",
        "src/lib/b.ts": "b\n",
        "src/lib/b.test.ts": "t\n",
        "README.md": "r\n",
      },
    });
    await writeFile(path.join(fx.workspace.dir, "src", "new.ts"), "new\n");
    await mkdir(path.join(fx.workspace.dir, "build"));
    await writeFile(path.join(fx.workspace.dir, "build", "out.ts"), "x\n");
    await rm(path.join(fx.workspace.dir, "README.md"));
  });
  after(() => fx.cleanup());

  it("lists current files: new ones included, deleted and ignored ones not", async () => {
    assert.deepEqual(await fx.workspace.list(), [
      ".github/workflows/ci.yml",
      ".gitignore",
      "src/a.ts",
      "src/lib/b.test.ts",
      "src/lib/b.ts",
      "src/new.ts",
    ]);
  });

  it("matches a slash-less pattern at any depth, dotted directories included", async () => {
    assert.deepEqual(await fx.workspace.list({ pattern: "*.ts" }), [
      "src/a.ts",
      "src/lib/b.test.ts",
      "src/lib/b.ts",
      "src/new.ts",
    ]);
    assert.deepEqual(await fx.workspace.list({ pattern: "*.yml" }), [".github/workflows/ci.yml"]);
  });

  it("matches a pattern with a slash from the given path", async () => {
    assert.deepEqual(await fx.workspace.list({ path: "src", pattern: "lib/*.test.ts" }), [
      "src/lib/b.test.ts",
    ]);
    assert.deepEqual(await fx.workspace.list({ path: "src/lib" }), ["src/lib/b.test.ts", "src/lib/b.ts"]);
  });
});
