import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../../core/index.ts";
import { readTaskFile, resolveRepo } from "./task-file.ts";
import { checkTestTemplate, expandTestCommand } from "./test-template.ts";

const dir = mkdtempSync(path.join(tmpdir(), "entourage-taskfile-"));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(path.join(dir, "plain"));
mkdirSync(path.join(dir, "checkout", ".git"), { recursive: true });

const task = (over: Record<string, unknown> = {}) => ({
  instance_id: "t1",
  repo: "plain",
  problem_statement: "Fix it.",
  FAIL_TO_PASS: ["test_a"],
  PASS_TO_PASS: ["test_b"],
  test_command: "pytest {tests}",
  ...over,
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function problems(file: string, defaults = {}): Promise<string> {
  const error = await readTaskFile(file, defaults).then(
    () => assert.fail("the task file was accepted"),
    (e: unknown) => e,
  );
  assert.ok(UserError.isInstance(error), String(error));
  return error.message;
}

describe("readTaskFile", () => {
  it("reads JSONL as SWE-bench ships it: test lists as JSON text, extra fields accepted", async () => {
    const file = write(
      "swe.jsonl",
      `${JSON.stringify({
        ...task({ repo: "checkout", base_commit: "abc123" }),
        FAIL_TO_PASS: '["tests/test_x.py::test_a"]',
        PASS_TO_PASS: "[]",
        patch: "diff --git …",
        hints_text: "",
        version: "1.3",
      })}\n\n${JSON.stringify(task({ instance_id: "t2", mode: "dynamic", model: "gpt-x" }))}\n`,
    );
    const parsed = await readTaskFile(file);
    assert.deepEqual(parsed.warnings, []);
    assert.equal(parsed.tasks.length, 2);
    const [a, b] = parsed.tasks;
    assert.deepEqual(a!.failToPass, ["tests/test_x.py::test_a"]);
    assert.deepEqual(a!.passToPass, []);
    assert.deepEqual(a!.repo, { kind: "git", url: path.join(dir, "checkout") });
    assert.equal(a!.baseCommit, "abc123");
    assert.equal(a!.where, "swe.jsonl:1");
    assert.equal(b!.where, "swe.jsonl:3");
    assert.deepEqual(b!.repo, { kind: "directory", path: path.join(dir, "plain") });
    assert.equal(b!.mode, "dynamic");
    assert.equal(b!.model, "gpt-x");
  });

  it("names the file, the line and the field of every problem, all at once", async () => {
    const file = write(
      "bad.jsonl",
      [
        JSON.stringify(task()),
        "",
        JSON.stringify(task({ instance_id: "t2", FAIL_TO_PASS: "tests/test_x.py::test_a" })),
        "{not json",
        JSON.stringify(task({ instance_id: "t4", problem_statement: undefined, mode: "fast" })),
        JSON.stringify(task({ instance_id: "t1" })),
        JSON.stringify(task({ instance_id: "t6", test_command: "pytest {test}" })),
        JSON.stringify(task({ instance_id: "t7", FAIL_TO_PASS: [] })),
        "[1]",
      ].join("\n"),
    );
    const message = await problems(file);
    assert.match(message, /bad\.jsonl:3: FAIL_TO_PASS: expected array, received string/);
    assert.match(message, /bad\.jsonl:4: not valid JSON/);
    assert.match(message, /bad\.jsonl:5: problem_statement: expected string, received undefined/);
    assert.match(message, /bad\.jsonl:5: mode: expected one of "pipeline"\|"dynamic"\|"single"/);
    assert.match(message, /bad\.jsonl:6: instance_id: "t1" is already the id of the task on line 1/);
    assert.match(message, /bad\.jsonl:7: test_command: unknown placeholder \{test\}/);
    assert.match(message, /bad\.jsonl:8: FAIL_TO_PASS: at least one test must go from failing to passing/);
    assert.match(message, /bad\.jsonl:9: expected a JSON object/);
    assert.doesNotMatch(message, /bad\.jsonl:1:/);
  });

  it("gives the line each element of a JSON array starts on", async () => {
    const text = JSON.stringify([task(), task({ instance_id: "t2", repo: 7 })], null, 2);
    const file = write("tasks.json", text);
    const message = await problems(file);
    const second = text.split("\n").lastIndexOf("  {") + 1;
    assert.match(message, new RegExp(`tasks\\.json:${second}: repo: expected string, received number`));
  });

  it("takes --test-command for tasks without one, and says how to give one when neither is there", async () => {
    const file = write("no-command.jsonl", JSON.stringify(task({ test_command: undefined })));
    const parsed = await readTaskFile(file, { testCommand: "go test -run {tests_regex} ./..." });
    assert.equal(parsed.tasks[0]!.testCommand, "go test -run {tests_regex} ./...");
    assert.match(await problems(file), /no-command\.jsonl:1: test_command: missing; .*--test-command/);
    assert.match(
      await problems(file, { testCommand: "pytest" }),
      /--test-command: "pytest" has no \{tests\}/,
    );
  });

  it("warns about fields it does not read, refuses a base_commit for a plain directory, an empty file", async () => {
    const typo = write("typo.jsonl", JSON.stringify(task({ test_comand: "x" })));
    assert.deepEqual((await readTaskFile(typo)).warnings, [
      'typo.jsonl:1: unknown field "test_comand" ignored',
    ]);
    const plain = write("plain.jsonl", JSON.stringify(task({ base_commit: "abc" })));
    assert.match(await problems(plain), /plain\.jsonl:1: base_commit: .* is a plain directory/);
    assert.match(await problems(write("empty.jsonl", "\n\n")), /empty\.jsonl is empty/);
    assert.match(await problems(path.join(dir, "missing.jsonl")), /Cannot read the task file .*no such file/);
  });
});

describe("resolveRepo", () => {
  it("reads local paths, file:// and git URLs, and SWE-bench's owner/name", () => {
    assert.deepEqual(resolveRepo("plain", dir), { kind: "directory", path: path.join(dir, "plain") });
    assert.deepEqual(resolveRepo(`file://${dir}/checkout`, "/"), {
      kind: "git",
      url: path.join(dir, "checkout"),
    });
    assert.deepEqual(resolveRepo("astropy/astropy", dir), {
      kind: "git",
      url: "https://github.com/astropy/astropy.git",
    });
    assert.deepEqual(resolveRepo("git@example.com:a/b.git", dir), {
      kind: "git",
      url: "git@example.com:a/b.git",
    });
  });
});

describe("test command templates", () => {
  it("{tests} is the ids shell-quoted; {tests_regex} one quoted pattern with metacharacters escaped", () => {
    assert.equal(
      expandTestCommand("python3 -m pytest {tests}", ["tests/a.py::test_x[1-2]", "it's"]),
      "python3 -m pytest 'tests/a.py::test_x[1-2]' 'it'\\''s'",
    );
    assert.equal(
      expandTestCommand("go test -run {tests_regex} ./...", ["TestA", "Test.B"]),
      "go test -run '^(TestA|Test\\.B)$' ./...",
    );
  });

  it("refuses a template that cannot run given tests", () => {
    assert.equal(checkTestTemplate("npm test -- --grep {tests_regex}"), undefined);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable in a test command, not a template
    assert.equal(checkTestTemplate('T="${test}" pytest {tests}'), undefined);
    assert.match(checkTestTemplate("npm test")!, /no \{tests\} or \{tests_regex\} placeholder/);
    assert.match(checkTestTemplate("pytest {tests_list}")!, /unknown placeholder \{tests_list\}/);
  });
});
