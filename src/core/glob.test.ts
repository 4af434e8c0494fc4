import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toolAllowed } from "../agents/roster.ts";
import { ruleMatches } from "./approval-rules.ts";
import { globMatch } from "./glob.ts";

const command = (text: string) => ({
  tool: "run_command",
  risk: "execute" as const,
  args: { command: text },
});

describe("one glob for approval rules and agents' tool allow-lists", () => {
  it("matches a command line: * crosses slashes and spaces, anchored, case-sensitive", () => {
    assert.ok(globMatch("npm test*", "npm test -- --grep 'a/b'"));
    assert.ok(globMatch("git commit -m *", 'git commit -m "fix src/a.ts"'));
    assert.ok(globMatch("*", ".hidden/and/slashes"));
    assert.ok(!globMatch("npm test*", "sudo npm test"), "anchored at the start");
    assert.ok(!globMatch("npm test", "npm test && rm -rf /"), "anchored at the end");
    assert.ok(!globMatch("NPM test*", "npm test"));
    assert.ok(!globMatch("a.b", "axb"), "a dot is literal");
    assert.ok(globMatch("go test ./...", "go test ./..."));
  });

  it("? is one character, and so in allow-lists too (it used to be literal there)", () => {
    assert.ok(globMatch("ls -?", "ls -l"));
    assert.ok(!globMatch("ls -?", "ls -la"));
    assert.ok(toolAllowed(["read_fil?"], "read_file"));
    assert.ok(toolAllowed(["github__*"], "github__create_issue"));
    assert.ok(!toolAllowed(["github__*"], "gitlab__create_issue"));
  });

  it("rules decide with the same glob", () => {
    assert.ok(
      ruleMatches({ tool: "run_*", match: "npm test*", action: "allow" }, command("npm test --watch")),
    );
    assert.ok(!ruleMatches({ tool: "run_*", match: "npm test*", action: "allow" }, command("npm publish")));
    assert.ok(
      ruleMatches({ tool: "run_command", match: "cat {a,b}.txt", action: "allow" }, command("cat b.txt")),
    );
  });
});
