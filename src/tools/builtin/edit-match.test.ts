import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type EditPlan, planEdit } from "./edit-match.ts";

/** The file after applying a plan, as edit_file writes it. */
function apply(content: string, plan: EditPlan): string {
  assert.equal(plan.kind, "match", `expected a match, got ${JSON.stringify(plan)}`);
  if (plan.kind !== "match") return content;
  let out = "";
  let from = 0;
  for (const r of plan.replacements) {
    out += content.slice(from, r.start) + r.text;
    from = r.end;
  }
  return out + content.slice(from);
}

const edit = (content: string, oldString: string, newString: string, replaceAll = false) =>
  planEdit(content, oldString, newString, { replaceAll, eol: content.includes("\r\n") ? "\r\n" : "\n" });

describe("planEdit", () => {
  it("prefers the exact text, and keeps replace_all for exact matches", () => {
    const plan = edit("a-b\na-b\n", "a-b", "c", true);
    assert.equal(plan.kind === "match" && plan.strategy, "exact");
    assert.equal(apply("a-b\na-b\n", plan), "c\nc\n");
  });

  it("matches ignoring whitespace around operators: `a - b` against `a-b`", () => {
    const file = "const x = a-b;\nconst y = f( 1,2 );\n";
    const plan = edit(file, "x = a - b", "x = a + b");
    assert.equal(plan.kind === "match" && plan.strategy, "whitespace");
    assert.equal(plan.kind === "match" && plan.how, "ignoring whitespace");
    assert.equal(apply(file, plan), "const x = a + b;\nconst y = f( 1,2 );\n");
    assert.equal(apply(file, edit(file, "f(1, 2)", "g(1, 2)")), "const x = a-b;\nconst y = g(1, 2);\n");
  });

  it("keeps a space between words: `returnx` is not `return x`", () => {
    assert.equal(edit("return x;\n", "returnx;", "y").kind, "none");
  });

  it("matches across lines ignoring whitespace (a call wrapped differently)", () => {
    const file = "call(a,\n     b);\nnext();\n";
    const plan = edit(file, "call(a, b);", "call(a, b, c);");
    assert.equal(plan.kind === "match" && plan.strategy, "whitespace");
    assert.equal(apply(file, plan), "call(a, b, c);\nnext();\n");
  });

  it("re-indents new_string by the indentation the block has in the file", () => {
    const file = "class A {\n    run() {\n        go();\n    }\n}\n";
    const plan = edit(file, "run() {\n    go();\n}", "run() {\n    go();\n    stop();\n}");
    assert.equal(plan.kind === "match" && plan.strategy, "indentation");
    assert.equal(apply(file, plan), "class A {\n    run() {\n        go();\n        stop();\n    }\n}\n");
  });

  it("line-trimmed: lines indented inconsistently still match, re-indented from the first line", () => {
    const file = "if (x) {\n  a();\n    b();\n}\n";
    const plan = edit(file, "a();\nb();", "a();\nc();");
    assert.equal(plan.kind === "match" && plan.strategy, "line-trimmed");
    assert.equal(apply(file, plan), "if (x) {\n  a();\n  c();\n}\n");
  });

  it("turns the model's spaces into a tab-indented file's tabs", () => {
    const file = "func main() {\n\tif ok {\n\t\trun()\n\t}\n}\n";
    const plan = edit(
      file,
      "    if ok {\n        run()\n    }",
      "    if ok {\n        run()\n        done()\n    }",
    );
    assert.equal(plan.kind === "match" && plan.strategy, "indentation");
    assert.match(plan.kind === "match" ? plan.how : "", /spaces turned into the file's tabs/);
    assert.equal(apply(file, plan), "func main() {\n\tif ok {\n\t\trun()\n\t\tdone()\n\t}\n}\n");
  });

  it("turns the model's tabs into a space-indented file's spaces", () => {
    const file = "def f():\n    if x:\n        return 1\n";
    const plan = edit(file, "\tif x:\n\t\treturn 1", "\tif x:\n\t\treturn 2");
    assert.equal(apply(file, plan), "def f():\n    if x:\n        return 2\n");
  });

  it("keeps CRLF line endings for tolerant matches", () => {
    const file = "a {\r\n    one();\r\n    two();\r\n}\r\n";
    const plan = edit(file, "one();\ntwo();", "one();\nthree();");
    assert.equal(apply(file, plan), "a {\r\n    one();\r\n    three();\r\n}\r\n");
  });

  it("handles old_string with a trailing newline against a file without one", () => {
    const file = "first\n  last";
    const plan = edit(file, "last\n", "final\n");
    assert.equal(apply(file, plan), "first\n  final");
  });

  it('reads \\n, \\t and \\" written literally as the characters they stand for', () => {
    const file = 'log("hi");\n\tdone();\n';
    const plan = edit(file, 'log(\\"hi\\");\\n\\tdone();', 'log(\\"bye\\");\\n\\tdone();');
    assert.equal(plan.kind === "match" && plan.strategy, "escapes");
    assert.equal(apply(file, plan), 'log("bye");\n\tdone();\n');
    // An escaped backslash stays one: `\\n` in the model's text is a backslash and an n.
    const literal = 'say("a\\nb");\nend\n';
    assert.equal(
      apply(literal, edit(literal, 'say(\\"a\\\\nb\\");\\nend', 'say(\\"a\\\\tb\\");\\nend')),
      'say("a\\tb");\nend\n',
    );
  });

  it("refuses a tolerant match that fits more than one place, with their lines", () => {
    const plan = edit("x = a-b;\ny = 1;\nx = a - b;\n", "x = a  -  b", "x = 0");
    assert.deepEqual(plan, {
      kind: "ambiguous",
      strategy: "whitespace",
      how: "ignoring whitespace",
      lines: [1, 3],
    });
  });

  it("finds nothing when the text is not there in any form", () => {
    assert.deepEqual(edit("alpha\nbeta\n", "gamma", "delta"), { kind: "none" });
  });
});
