import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadAgentFiles, parseAgentFile } from "./loader.ts";
import { AgentRoster, toolAllowed } from "./roster.ts";

const root = mkdtempSync(join(tmpdir(), "entourage-agents-"));
after(() => rmSync(root, { recursive: true, force: true }));

const reviewer = `---
name: security-reviewer
description: Reviews the change for security problems.
tools: [read_file, search, github__*]
model: gpt-4.1-mini
maxSteps: 12
maxCostUsd: 0.5
---

You review changes for injection, secrets and unsafe defaults.
`;

async function problemOf(text: string, file = "/x/agent.md") {
  try {
    await parseAgentFile(text, file);
  } catch (error) {
    return { message: (error as Error).message, field: (error as { field?: string }).field };
  }
  assert.fail("expected the file to be refused");
}

describe("parseAgentFile", () => {
  it("reads the frontmatter and the role prompt, adding finish to the allow-list", async () => {
    const agent = await parseAgentFile(reviewer, "/repo/.entourage/agents/security-reviewer.md");
    assert.deepEqual(agent, {
      name: "security-reviewer",
      description: "Reviews the change for security problems.",
      systemPrompt: "You review changes for injection, secrets and unsafe defaults.",
      tools: ["read_file", "search", "github__*", "finish"],
      model: "gpt-4.1-mini",
      maxSteps: 12,
      maxTokens: undefined,
      maxCostUsd: 0.5,
      source: "/repo/.entourage/agents/security-reviewer.md",
    });
  });

  it("takes the name from the file, a comma-separated tools string, and read-only tools by default", async () => {
    const a = await parseAgentFile(
      "---\ndescription: D\ntools: read_file, search\n---\nP",
      "/a/doc-writer.md",
    );
    assert.equal(a.name, "doc-writer");
    assert.deepEqual(a.tools, ["read_file", "search", "finish"]);
    const b = await parseAgentFile("---\ndescription: D\n---\nP", "/a/b.md");
    assert.deepEqual(b.tools, ["read_file", "list_files", "search", "finish"]);
  });

  it("names the field at fault", async () => {
    assert.deepEqual(await problemOf("---\ndescription: D\ntool: [read_file]\n---\nP"), {
      message:
        'unknown field "tool" (known fields: name, description, model, tools, maxSteps, maxTokens, maxCostUsd)',
      field: "tool",
    });
    assert.deepEqual(await problemOf("---\ntools: [read_file]\n---\nP"), {
      message: 'field "description" is required',
      field: "description",
    });
    const steps = await problemOf("---\ndescription: D\nmaxSteps: many\n---\nP");
    assert.equal(steps.field, "maxSteps");
    assert.match(steps.message, /^field "maxSteps" .*number/);
    const name = await problemOf("---\nname: other\ndescription: D\n---\nP", "/a/reviewer.md");
    assert.equal(name.field, "name");
    assert.match(name.message, /"other" but the file is reviewer\.md/);
    assert.equal((await problemOf("---\ndescription: D\n---\n   \n")).field, "prompt");
    assert.equal((await problemOf("---\ndescription: D\ntools: [read file]\n---\nP")).field, "tools");
  });

  it("refuses a file without frontmatter or with invalid YAML, saying how to fix it", async () => {
    assert.match(
      (await problemOf("Just a prompt.")).message,
      /^no frontmatter: start the file with a line ---/,
    );
    assert.match((await problemOf("---\ndescription: [unclosed\n---\nP")).message, /not valid YAML/);
  });
});

describe("loadAgentFiles", () => {
  it("loads every file, reports broken ones by file and field, and lets a later directory win", async () => {
    const user = join(root, "home", "agents");
    const repo = join(root, "repo", ".entourage", "agents");
    mkdirSync(user, { recursive: true });
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(user, "security-reviewer.md"), reviewer);
    writeFileSync(join(user, "notes.txt"), "not an agent");
    writeFileSync(
      join(repo, "security-reviewer.md"),
      "---\ndescription: The repo's reviewer.\n---\nRepo prompt.",
    );
    writeFileSync(join(repo, "broken.md"), "---\ndescription: D\nmaxTokens: -3\n---\nP");
    writeFileSync(
      join(repo, "writer.md"),
      "---\ndescription: Writes docs.\ntools: [read_file, write_file]\n---\nW",
    );
    const result = await loadAgentFiles([user, repo, join(root, "missing")]);
    assert.deepEqual(
      result.agents.map((a) => [a.name, a.description]),
      [
        ["security-reviewer", "The repo's reviewer."],
        ["writer", "Writes docs."],
      ],
    );
    assert.deepEqual(result.replaced, [
      {
        name: "security-reviewer",
        file: join(user, "security-reviewer.md"),
        by: join(repo, "security-reviewer.md"),
      },
    ]);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]!.file, join(repo, "broken.md"));
    assert.equal(result.problems[0]!.field, "maxTokens");
  });
});

describe("agent roster and allow-lists", () => {
  it("matches tool names exactly or by glob", () => {
    assert.ok(toolAllowed(["read_file", "github__*"], "github__create_issue"));
    assert.ok(toolAllowed(["read_file"], "read_file"));
    assert.ok(!toolAllowed(["read_file", "github__*"], "write_file"));
    assert.ok(!toolAllowed(["git*b"], "github__x"));
    assert.ok(!toolAllowed(["read.file"], "readXfile"), "a dot is literal");
  });

  it("lets a custom agent replace a built-in and adds granted tools", () => {
    const roster = new AgentRoster(
      [{ name: "tester", description: "Custom tester", systemPrompt: "T", tools: ["run_command", "finish"] }],
      { implementer: ["notes__add"], tester: ["notes__add"], nobody: ["x"] },
    );
    assert.equal(roster.require("tester").description, "Custom tester");
    assert.deepEqual(roster.require("tester").tools, ["run_command", "finish", "notes__add"]);
    assert.ok(roster.require("implementer").tools.includes("notes__add"));
    assert.ok(!roster.require("analyzer").tools.includes("notes__add"));
    assert.deepEqual(
      roster.delegates().map((a) => a.name),
      ["analyzer", "implementer", "tester", "refactorer"],
    );
  });
});
