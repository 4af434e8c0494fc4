import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileToolContext } from "../../../test/support/tools.ts";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { ToolInputError } from "../../core/index.ts";
import { editFileTool } from "./edit-file.ts";

const SOURCE = [
  "import { db } from './db';",
  "",
  "export function login(user: string, password: string) {",
  "  const row = db.find(user);",
  "  if (!row) return null;",
  "  return row.password === password ? row : null;",
  "}",
  "",
  "export function logout() {",
  "  return null;",
  "}",
  "",
].join("\n");

function rejectsWith(code: string, ...patterns: RegExp[]) {
  return (error: unknown) => {
    assert.ok(ToolInputError.isInstance(error), String(error));
    assert.equal(error.code, code);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}

describe("edit_file", () => {
  let fx: WorkspaceFixture;
  beforeEach(async () => {
    fx = await createWorkspaceFixture({
      files: {
        "src/auth.ts": SOURCE,
        "win.txt": "alpha\r\nbeta\r\ngamma\r\n",
        "dup.ts": "if (a) {\n  go();\n}\nif (b) {\n  go();\n}\n",
        "latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      },
    });
  });
  afterEach(() => fx.cleanup());
  const edit = (input: { path: string; old_string: string; new_string: string; replace_all?: boolean }) =>
    editFileTool.execute(input, fileToolContext(fx.workspace));
  const content = (rel: string) => readFile(path.join(fx.workspace.dir, rel), "utf8");

  it("replaces a unique match and shows the result with line numbers", async () => {
    const result = await edit({
      path: "src/auth.ts",
      old_string: "  if (!row) return null;",
      new_string: "  if (!row) throw new Error('no user');",
    });
    assert.match(result.output, /^Edited src\/auth.ts: replaced 1 occurrence \(line 5\)\./);
    assert.match(result.output, / {5}5→ {2}if \(!row\) throw new Error\('no user'\);/);
    assert.deepEqual(result.changed, ["src/auth.ts"]);
    assert.equal(
      await content("src/auth.ts"),
      SOURCE.replace("if (!row) return null;", "if (!row) throw new Error('no user');"),
    );
  });

  it("inserts new_string literally, $ patterns included", async () => {
    await edit({ path: "src/auth.ts", old_string: "logout()", new_string: "logout($&, $1)" });
    assert.match(await content("src/auth.ts"), /export function logout\(\$&, \$1\) \{/);
  });

  it("refuses an ambiguous match, giving the count and line numbers", async () => {
    await assert.rejects(
      edit({ path: "src/auth.ts", old_string: "return null;", new_string: "return undefined;" }),
      rejectsWith("edit_ambiguous", /matches 2 times in src\/auth.ts \(at lines 5, 10\)/, /replace_all/),
    );
    assert.equal(await content("src/auth.ts"), SOURCE, "nothing written");
  });

  it("replaces every match with replace_all", async () => {
    const result = await edit({
      path: "src/auth.ts",
      old_string: "null",
      new_string: "undefined",
      replace_all: true,
    });
    assert.match(result.output, /replaced 3 occurrences \(lines 5, 6, 10\)/);
    assert.doesNotMatch(await content("src/auth.ts"), /null/);
  });

  it("shows the closest lines when nothing matches", async () => {
    await assert.rejects(
      edit({
        path: "src/auth.ts",
        old_string:
          "export function login(user: string, pass: string) {\n  const row = db.findOne(user);\n  if (!row) return null;",
        new_string: "x",
      }),
      rejectsWith(
        "edit_no_match",
        /no match for old_string in src\/auth.ts; the closest lines are 3–5:/i,
        / {5}3→export function login\(user: string, password: string\) \{\n {5}4→ {2}const row = db.find\(user\);\n {5}5→ {2}if \(!row\) return null;/,
      ),
    );
  });

  it("re-indents new_string when old_string was copied at another indentation, and says so", async () => {
    const result = await edit({
      path: "src/auth.ts",
      old_string: "const row = db.find(user);\nif (!row) return null;",
      new_string: "const row = db.find(user.trim());\nif (!row) {\n  return null;\n}",
    });
    assert.match(
      result.output,
      /^Edited src\/auth.ts: old_string is not in the file exactly; it matched with a different indentation \(new_string re-indented to match\) at lines 4–5, which were replaced\./,
    );
    assert.equal(result.metadata?.strategy, "indentation");
    assert.equal(
      await content("src/auth.ts"),
      SOURCE.replace(
        "  const row = db.find(user);\n  if (!row) return null;",
        "  const row = db.find(user.trim());\n  if (!row) {\n    return null;\n  }",
      ),
    );
  });

  it("matches ignoring spaces around operators, inside a line", async () => {
    const result = await edit({
      path: "src/auth.ts",
      old_string: "row.password===password ? row : null",
      new_string: "row.password === password ? row : undefined",
    });
    assert.match(result.output, /it matched ignoring whitespace at line 6, which was replaced/);
    assert.match(await content("src/auth.ts"), /return row\.password === password \? row : undefined;\n/);
  });

  it("refuses a tolerant match that fits several places, naming their lines", async () => {
    await assert.rejects(
      edit({ path: "dup.ts", old_string: "    go();\n}", new_string: "    stop();\n}" }),
      rejectsWith(
        "edit_ambiguous",
        /not in dup.ts exactly, and comparing each line without its leading and trailing whitespace it matches 2 times in dup.ts \(at lines 2, 5\), so nothing was changed/,
      ),
    );
    assert.equal(await content("dup.ts"), "if (a) {\n  go();\n}\nif (b) {\n  go();\n}\n", "nothing written");
  });

  it("keeps CRLF line endings when the model writes \\n", async () => {
    await edit({ path: "win.txt", old_string: "alpha\nbeta\n", new_string: "alpha\nBETA\nbeta2\n" });
    assert.equal(await content("win.txt"), "alpha\r\nBETA\r\nbeta2\r\ngamma\r\n");
  });

  it("refuses files that are not valid UTF-8 rather than corrupting them", async () => {
    await assert.rejects(
      edit({ path: "latin1.txt", old_string: "caf", new_string: "cafe" }),
      rejectsWith("not_utf8", /run_command/),
    );
  });

  it("refuses empty and no-op edits, and missing files with suggestions", async () => {
    await assert.rejects(
      edit({ path: "src/auth.ts", old_string: "", new_string: "x" }),
      rejectsWith("edit_empty", /write_file/),
    );
    await assert.rejects(
      edit({ path: "src/auth.ts", old_string: "db", new_string: "db" }),
      rejectsWith("edit_noop"),
    );
    await assert.rejects(
      edit({ path: "src/auth.tsx", old_string: "a", new_string: "b" }),
      rejectsWith("not_found", /Similarly named files: src\/auth.ts/),
    );
  });
});
