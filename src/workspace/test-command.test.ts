import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tempDir, writeEntries } from "../../test/support/workspace.ts";
import { describeProject, detectLanguages, detectTestCommand } from "./test-command.ts";

let root: { path: string; cleanup: () => Promise<void> };
let counter = 0;
before(async () => {
  root = await tempDir("entourage-testcmd-");
});
after(() => root.cleanup());

/** A fresh project directory holding `files`. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = path.join(root.path, `p${counter++}`);
  await mkdir(dir, { recursive: true });
  await writeEntries(dir, files);
  return dir;
}

const pkg = (extra: object) => JSON.stringify({ name: "x", version: "1.0.0", ...extra });

describe("detectTestCommand: JavaScript and TypeScript", () => {
  it("runs scripts.test with npm when there is no lockfile", async () => {
    const dir = await project({ "package.json": pkg({ scripts: { test: "node --test" } }) });
    assert.deepEqual(await detectTestCommand(dir), {
      command: "npm test",
      source: "package.json scripts.test (no lockfile → npm)",
    });
  });

  it("picks the package manager from the lockfile", async () => {
    const cases: [string, string][] = [
      ["pnpm-lock.yaml", "pnpm test"],
      ["yarn.lock", "yarn test"],
      ["bun.lockb", "bun run test"],
      ["bun.lock", "bun run test"],
      ["package-lock.json", "npm test"],
    ];
    for (const [lockfile, command] of cases) {
      const dir = await project({ "package.json": pkg({ scripts: { test: "vitest" } }), [lockfile]: "" });
      const found = await detectTestCommand(dir);
      assert.equal(found?.command, command, lockfile);
      assert.match(found?.source ?? "", new RegExp(`${lockfile.replace(".", "\\.")} → `));
    }
  });

  it("prefers the packageManager field over a lockfile", async () => {
    const dir = await project({
      "package.json": pkg({ scripts: { test: "jest" }, packageManager: "pnpm@9.1.0" }),
      "yarn.lock": "",
    });
    assert.deepEqual(await detectTestCommand(dir), {
      command: "pnpm test",
      source: "package.json scripts.test (packageManager pnpm@9.1.0 → pnpm)",
    });
  });

  it("ignores npm's placeholder script and falls through to other languages", async () => {
    const dir = await project({
      "package.json": pkg({ scripts: { test: 'echo "Error: no test specified" && exit 1' } }),
      "go.mod": "module x\n",
    });
    assert.deepEqual(await detectTestCommand(dir), { command: "go test ./...", source: "go.mod" });
  });

  it("uses bun's built-in runner only for a bun project without a test script", async () => {
    const bun = await project({ "package.json": pkg({}), "bun.lock": "" });
    assert.equal((await detectTestCommand(bun))?.command, "bun test");
    const npm = await project({ "package.json": pkg({}) });
    assert.equal(await detectTestCommand(npm), undefined);
  });

  it("survives a broken package.json", async () => {
    const dir = await project({ "package.json": "{ not json", "Cargo.toml": "[package]\n" });
    assert.equal((await detectTestCommand(dir))?.command, "cargo test");
  });
});

describe("detectTestCommand: Python", () => {
  const pytest = "python3 -m pytest -q";

  it("finds pytest from its configuration files", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ "pytest.ini": "[pytest]\n" }, "pytest.ini"],
      [{ "pyproject.toml": "[project]\nname='x'\n\n[tool.pytest.ini_options]\n" }, "pyproject.toml"],
      [{ "tox.ini": "[tox]\n[pytest]\naddopts = -q\n" }, "tox.ini"],
      [{ "setup.cfg": "[metadata]\n[tool:pytest]\n" }, "setup.cfg"],
      [{ "conftest.py": "" }, "conftest.py"],
      [{ "tests/conftest.py": "" }, "tests/conftest.py"],
    ];
    for (const [files, source] of cases) {
      const found = await detectTestCommand(await project(files));
      assert.equal(found?.command, pytest, source);
      assert.ok(found?.source.startsWith(source), `${found?.source} starts with ${source}`);
    }
  });

  it("finds pytest from a tests directory and a declared dependency", async () => {
    const dir = await project({
      "tests/test_app.py": "def test_x(): pass\n",
      "requirements-dev.txt": "pytest>=8\n",
    });
    assert.deepEqual(await detectTestCommand(dir), {
      command: pytest,
      source: "tests/test_*.py and pytest in requirements-dev.txt",
    });
  });

  it("does not take a pyproject without a pytest section as pytest configuration", async () => {
    const dir = await project({
      "pyproject.toml": "[project]\nname = 'x'\n",
      "test_app.py": "import unittest\n",
    });
    assert.deepEqual(await detectTestCommand(dir), {
      command: "python3 -m unittest discover -v",
      source: "test_app.py (no pytest configuration)",
    });
  });

  it("falls back to unittest for test files without pytest, looking a few levels down", async () => {
    const dir = await project({ "pkg/tests/test_core.py": "import unittest\n", "tests/helper.py": "" });
    assert.equal((await detectTestCommand(dir))?.command, "python3 -m unittest discover -v");
    const hidden = await project({ ".venv/lib/test_x.py": "", "node_modules/a/test_y.py": "" });
    assert.equal(await detectTestCommand(hidden), undefined);
  });
});

describe("detectTestCommand: Go, Rust, make and priority", () => {
  it("detects Go and Rust", async () => {
    assert.deepEqual(await detectTestCommand(await project({ "go.mod": "module x\n" })), {
      command: "go test ./...",
      source: "go.mod",
    });
    assert.deepEqual(await detectTestCommand(await project({ "Cargo.toml": "[workspace]\n" })), {
      command: "cargo test",
      source: "Cargo.toml",
    });
  });

  it("uses a Makefile test target only when nothing else matches, and only a real rule", async () => {
    const make = await project({ Makefile: "all: build\n\ncheck test: lint\n\tgo vet\n" });
    assert.deepEqual(await detectTestCommand(make), { command: "make test", source: "Makefile test target" });
    const assignment = await project({ Makefile: "test := 1\ntest ::= 2\npytest: x\n\ttest: y\n" });
    assert.equal(await detectTestCommand(assignment), undefined);
    const both = await project({ Makefile: "test:\n\tgo test ./...\n", "go.mod": "module x\n" });
    assert.equal((await detectTestCommand(both))?.command, "go test ./...");
  });

  it("orders a polyglot repository: package.json, pytest, Go, Rust, unittest, make", async () => {
    const all = {
      "package.json": pkg({ scripts: { test: "vitest" } }),
      "pytest.ini": "",
      "go.mod": "module x\n",
      "Cargo.toml": "[package]\n",
      "test_x.py": "",
      Makefile: "test:\n",
    };
    const expected = [
      "npm test",
      "python3 -m pytest -q",
      "go test ./...",
      "cargo test",
      "python3 -m unittest discover -v",
      "make test",
    ];
    const order = ["package.json", "pytest.ini", "go.mod", "Cargo.toml", "test_x.py"];
    for (const [i, command] of expected.entries()) {
      const files: Record<string, string> = { ...all };
      for (const removed of order.slice(0, i)) delete files[removed];
      assert.equal((await detectTestCommand(await project(files)))?.command, command);
    }
  });

  it("returns undefined for an empty or missing directory", async () => {
    assert.equal(await detectTestCommand(await project({})), undefined);
    assert.equal(await detectTestCommand(path.join(root.path, "nowhere")), undefined);
  });
});

describe("detectTestCommand: symlinks", () => {
  it("never reads a marker file through a symlink leading out of the project", async () => {
    const outside = await project({
      "package.json": pkg({ scripts: { test: "steal" } }),
      "go.mod": "module y\n",
      "tests/test_a.py": "",
    });
    const dir = await project({});
    await symlink(path.join(outside, "package.json"), path.join(dir, "package.json"));
    await symlink(path.join(outside, "go.mod"), path.join(dir, "go.mod"));
    await symlink(path.join(outside, "tests"), path.join(dir, "tests"));
    await symlink(outside, path.join(dir, "up"));
    assert.equal(await detectTestCommand(dir), undefined);
  });

  it("reads a symlink that stays inside the project", async () => {
    const dir = await project({ "config/package.json": pkg({ scripts: { test: "tap" } }) });
    await symlink("config/package.json", path.join(dir, "package.json"));
    assert.equal((await detectTestCommand(dir))?.command, "npm test");
  });
});

describe("describeProject", () => {
  it("names the languages and the test command", async () => {
    const dir = await project({
      "package.json": pkg({ scripts: { test: "vitest" } }),
      "tsconfig.json": "{}",
      "pnpm-lock.yaml": "",
      "pyproject.toml": "[project]\n",
    });
    assert.deepEqual(await detectLanguages(dir), ["TypeScript", "Python"]);
    assert.equal(
      await describeProject(dir),
      "Languages: TypeScript, Python.\nTests: `pnpm test` — from package.json scripts.test (pnpm-lock.yaml → pnpm).",
    );
  });

  it("says when nothing is recognised", async () => {
    const dir = await project({ "README.md": "hi\n" });
    await writeFile(path.join(dir, "notes.txt"), "x");
    assert.equal(
      await describeProject(dir),
      "Languages: none recognised.\nTests: no test command found; look for one in the README or CI configuration.",
    );
  });
});
