import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileToolContext } from "../../../test/support/tools.ts";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { ToolInputError } from "../../core/index.ts";
import { ripgrepArgs, searchTool } from "./search.ts";

describe("search", () => {
  let fx: WorkspaceFixture;
  before(async () => {
    const many = Array.from({ length: 400 }, (_, i) => `const needle${i} = ${i};`).join("\n");
    fx = await createWorkspaceFixture({
      files: {
        ".gitignore": "dist/\n",
        "src/auth.ts": "export function login() {}\nexport function Logout() {}\n",
        "src/auth.test.ts": "login();\n",
        ".github/ci.yml": "run: login\n",
        "many.ts": `${many}\n`,
      },
    });
    const dir = fx.workspace.dir;
    await mkdir(path.join(dir, "dist"));
    await writeFile(path.join(dir, "dist", "bundle.js"), "function login(){}\n");
    const outside = path.join(fx.base, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.ts"), "function login() { secret }\n");
    await symlink(outside, path.join(dir, "planted"));
  });
  after(() => fx.cleanup());
  const search = (input: { pattern: string; path?: string; glob?: string; ignore_case?: boolean }) =>
    searchTool.execute(input, fileToolContext(fx.workspace));

  it("returns path:line:text sorted by path; hidden files yes, ignored files and symlinks out no", async () => {
    const result = await search({ pattern: "login" });
    assert.equal(
      result.output,
      [
        ".github/ci.yml:1:run: login",
        "src/auth.test.ts:1:login();",
        "src/auth.ts:1:export function login() {}",
      ].join("\n"),
    );
  });

  it("narrows by path, glob and case", async () => {
    assert.equal(
      (await search({ pattern: "login", path: "src", glob: "!*.test.ts" })).output,
      "src/auth.ts:1:export function login() {}",
    );
    assert.equal(
      (await search({ pattern: "logout", ignore_case: true })).output,
      "src/auth.ts:2:export function Logout() {}",
    );
    assert.equal(
      (await search({ pattern: "login", path: "src/auth.ts" })).output,
      "src/auth.ts:1:export function login() {}",
    );
  });

  it("says when nothing matches", async () => {
    assert.equal(
      (await search({ pattern: "nowhere", glob: "*.ts" })).output,
      "No matches for /nowhere/ (files matching *.ts).",
    );
  });

  it("caps results with a note", async () => {
    const result = await search({ pattern: "needle\\d+" });
    const lines = result.output.split("\n");
    assert.equal(lines.length, 250 + 2);
    assert.match(lines.at(-1)!, /Showing the first 250 of 400 matching lines/);
  });

  it("turns an invalid regex into an actionable error", async () => {
    await assert.rejects(search({ pattern: "login(" }), (e: unknown) => {
      assert.ok(ToolInputError.isInstance(e));
      assert.equal(e.code, "invalid_regex");
      assert.match(e.message, /not a valid regular expression/);
      assert.match(e.message, /Escape characters/);
      return true;
    });
  });

  it("refuses paths that escape the workspace", async () => {
    await assert.rejects(
      search({ pattern: "secret", path: "planted" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_symlink_escape",
    );
    await assert.rejects(
      search({ pattern: "x", path: "../" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "path_escape",
    );
    await assert.rejects(
      search({ pattern: "x", glob: "../**" }),
      (e: unknown) => ToolInputError.isInstance(e) && e.code === "pattern_escape",
    );
  });

  it("passes the pattern as a value and keeps confinement flags", () => {
    const args = ripgrepArgs({ pattern: "--files", path: "-rf" });
    assert.deepEqual(args.slice(-4), ["--regexp", "--files", "--", "-rf"]);
    for (const flag of ["--no-follow", "--hidden", "!.git", "--no-require-git", "--no-config"])
      assert.ok(args.includes(flag), flag);
  });
});
