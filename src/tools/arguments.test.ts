import assert from "node:assert/strict";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../test/support/workspace.ts";
import { createSubprocessBackend } from "../sandbox/backends/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import { normalizeArguments, pathRoots, shellQuote } from "./arguments.ts";
import { builtinTools, editFileTool, runCommandTool } from "./builtin/index.ts";
import { executeTool, prepareCall } from "./run-tool.ts";

/**
 * The wrapper as the agent loop drives it: prepare with the run's workspace and sandbox, then execute.
 * Real workspace (git), real subprocess sandbox for run_command.
 */
describe("arguments models send", () => {
  let fx: WorkspaceFixture;
  let sandbox: Sandbox;
  let outside: string;
  before(async () => {
    fx = await createWorkspaceFixture({
      files: { "src/a.js": "const x = 1;\n", "src/b.js": "export const y = 2;\n" },
    });
    outside = path.join(fx.base, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.txt"), "secret\n");
    // A link the agent could plant with a shell command.
    await symlink(outside, path.join(fx.workspace.dir, "planted"));
    sandbox = await createSubprocessBackend().create({
      workspace: fx.workspace.dir,
      network: "off",
      limits: { timeoutMs: 30_000, outputBytes: 100_000 },
    });
  });
  after(async () => {
    await sandbox.destroy();
    await fx.cleanup();
  });

  const call = async (name: string, args: unknown, view?: string) => {
    const where = {
      workspace: fx.workspace,
      sandbox: view ? { spec: { ...sandbox.spec, workspace: view } } : sandbox,
    };
    const prepared = prepareCall(builtinTools, name, args, undefined, where);
    if (!prepared.ok) return { prepared, output: prepared.message, isError: true, metadata: undefined };
    const result = await executeTool(prepared.tool, prepared.input, {
      workspace: fx.workspace,
      sandbox,
      signal: new AbortController().signal,
    });
    return { prepared, ...result };
  };

  describe("absolute paths", () => {
    it("maps a path inside the workspace directory and says so", async () => {
      const given = path.join(fx.workspace.dir, "src/a.js");
      const result = await call("read_file", { path: given });
      assert.equal(
        result.output.split("\n")[0],
        `Note: Used path src/a.js (given as ${given}, inside the workspace).`,
      );
      assert.match(result.output, / {5}1→const x = 1;/);
      assert.deepEqual(result.metadata?.argumentNotes, [
        `used path src/a.js (given as ${given}, inside the workspace)`,
      ]);
    });

    it("maps a path inside the user's repository (what prompts show) to the workspace copy", async () => {
      const given = path.join(fx.repo, "src/a.js");
      const result = await call("edit_file", { path: given, old_string: "= 1", new_string: "= 3" });
      assert.equal(result.isError, undefined);
      assert.match(result.output, /inside the repository\)\.\nEdited src\/a.js: replaced 1 occurrence/);
      assert.equal(await readFile(path.join(fx.workspace.dir, "src/a.js"), "utf8"), "const x = 3;\n");
      assert.equal(
        await readFile(path.join(fx.repo, "src/a.js"), "utf8"),
        "const x = 1;\n",
        "checkout untouched",
      );
    });

    it("maps the sandbox's view of the workspace (e.g. /workspace) for every path-taking tool", async () => {
      const list = await call("list_files", { path: "/workspace/src" }, "/workspace");
      assert.match(
        list.output,
        /^Note: Used path src \(given as \/workspace\/src, inside the sandbox's workspace\)\.\n/,
      );
      assert.match(list.output, /src\/a.js\nsrc\/b.js/);
      const search = await call("search", { pattern: "y = 2", path: "/workspace" }, "/workspace");
      assert.match(search.output, /src\/b.js:1:export const y = 2;/);
      const write = await call("write_file", { path: "/workspace/new.txt", content: "hi\n" }, "/workspace");
      assert.match(write.output, /Created new.txt/);
      assert.equal(await readFile(path.join(fx.workspace.dir, "new.txt"), "utf8"), "hi\n");
    });

    it("maps run_command's cwd, and `..` that stays inside", async () => {
      const result = await call("run_command", {
        command: "pwd",
        cwd: path.join(fx.repo, "src/../src"),
      });
      assert.match(
        result.output,
        /^Note: Used cwd src \(given as .*, inside the repository\)\.\n\$ pwd\nexit code 0/,
      );
      assert.match(result.output, new RegExp(`${path.join(fx.workspace.dir, "src")}\n`));
    });

    it("refuses a path outside all of them, naming the workspace root and the relative form", async () => {
      for (const given of [
        "/etc/passwd",
        path.join(fx.repo, "../outside/secret.txt"),
        path.join(outside, "secret.txt"),
      ]) {
        const result = await call("read_file", { path: given });
        assert.equal(result.isError, true);
        assert.match(result.output, new RegExp(`is outside the workspace \\(${fx.workspace.dir}\\)`));
        assert.match(result.output, /Use a path relative to the workspace root, e.g. "src\/index.ts"/);
      }
      const cwd = await call("run_command", { command: "ls", cwd: "/etc" });
      assert.equal(cwd.prepared.ok, false, "refused before approval and before running");
    });

    it("refuses a symlink out even when it is named by an absolute path inside the workspace", async () => {
      const result = await call("read_file", { path: path.join(fx.workspace.dir, "planted/secret.txt") });
      assert.equal(result.isError, true);
      assert.match(result.output, /planted is a symlink to .*outside the workspace; tools do not follow it/);
      assert.doesNotMatch(result.output, /^ +1→secret/m);
    });

    it("maps before the approval policy sees the path, so path rules apply to absolute paths too", () => {
      const prepared = prepareCall(
        builtinTools,
        "write_file",
        { path: path.join(fx.repo, "src/x.js"), content: "" },
        undefined,
        {
          workspace: fx.workspace,
        },
      );
      assert.ok(prepared.ok);
      assert.equal((prepared.input as { path: string }).path, "src/x.js");
    });
  });

  describe("aliases and shapes", () => {
    it("takes Claude Code, Anthropic editor and opencode names and reports them", async () => {
      const result = await call("edit_file", {
        file_path: "src/b.js",
        old_str: "y = 2",
        new_str: "y = 20",
        replaceAll: false,
      });
      assert.match(
        result.output,
        /^Note: Took file_path as path; took old_str as old_string; took new_str as new_string; took replaceAll as replace_all\.\nEdited src\/b.js/,
      );
      const camel = await call("edit_file", { filePath: "src/b.js", oldText: "y = 20", newText: "y = 2" });
      assert.match(camel.output, /took oldText as old_string; took newText as new_string/);
      const write = await call("write_file", { filename: "w.txt", contents: "x\n" });
      assert.match(write.output, /^Note: Took filename as path; took contents as content\.\nCreated w.txt/);
    });

    it("runs a command given as cmd or as an argv list, quoted for the shell", async () => {
      const result = await call("run_command", { cmd: ["printf", "%s|", "a b", "it's"] });
      assert.match(
        result.output,
        /^Note: Took cmd as command; command was a list; ran it as `printf '%s\|' 'a b' 'it'\\''s'`\./,
      );
      assert.match(result.output, /exit code 0 · \d+ ms\na b\|it's\|/);
      const wrapped = await call("run_command", { command: ["bash", "-lc", "echo $((1+2))"] });
      assert.match(wrapped.output, /ran it as `echo \$\(\(1\+2\)\)`[\s\S]*\n3\n?$/);
    });

    it("ignores unknown fields with a note, and refuses those whose omission would change the call", async () => {
      const read = await call("read_file", { path: "src/a.js", explanation: "to look" });
      assert.match(
        read.output,
        /^Note: Ignored unknown argument explanation \(read_file takes path, offset, limit\)\./,
      );
      const append = await call("write_file", { path: "src/a.js", content: "more", append: true });
      assert.equal(append.isError, true);
      assert.match(
        append.output,
        /write_file has no append argument\. write_file always replaces the whole file/,
      );
      assert.match(
        await readFile(path.join(fx.workspace.dir, "src/a.js"), "utf8"),
        /^const x/,
        "not overwritten",
      );
    });

    it("refuses an alias that contradicts the canonical field", () => {
      const prepared = prepareCall(builtinTools, "read_file", { path: "src/a.js", file_path: "src/b.js" });
      assert.ok(!prepared.ok);
      assert.match(
        prepared.message,
        /got both path and file_path \(another name for it\) with different values\. Send only path\./,
      );
    });

    it('reads "true" and "20" as the boolean and number the schema asks for', () => {
      const prepared = prepareCall(builtinTools, "read_file", { path: "a", limit: "20" });
      assert.ok(prepared.ok);
      assert.deepEqual(prepared.input, { path: "a", limit: 20 });
      assert.deepEqual(prepared.notes, ['read limit "20" as 20']);
      const edit = normalizeArguments("edit_file", editFileTool.input, editFileTool.accepts, {
        path: "a",
        old_string: "x",
        new_string: "y",
        replace_all: "true",
      });
      assert.ok(edit.ok);
      assert.equal((edit.args as { replace_all: unknown }).replace_all, true);
    });

    it("leaves well-formed calls alone: no note, same input", () => {
      const prepared = prepareCall([runCommandTool], "run_command", { command: "ls", cwd: "src" });
      assert.ok(prepared.ok);
      assert.deepEqual(prepared.notes, []);
      assert.deepEqual(prepared.input, { command: "ls", cwd: "src" });
    });
  });

  it("quotes shell words only when needed", () => {
    assert.equal(shellQuote("src/a.js"), "src/a.js");
    assert.equal(shellQuote("a b"), "'a b'");
    assert.equal(shellQuote("$HOME"), "'$HOME'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
  });

  it("lists each root once, the workspace first", () => {
    const roots = pathRoots({ workspace: fx.workspace, sandbox });
    assert.deepEqual(
      roots.map((r) => r.name),
      ["the workspace", "the repository"],
      "the sandbox mounts the workspace at its own path here",
    );
  });
});
