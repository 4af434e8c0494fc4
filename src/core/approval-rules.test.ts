import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  alwaysAllowRule,
  describeRule,
  mainArgument,
  PLAN_APPROVAL_TOOL,
  parseRuleFlag,
  ruleMatches,
} from "./approval-rules.ts";

describe("approval rules: the helpers every client shares", () => {
  it("derives the 'always allow' rule from the call's tool and main argument", () => {
    const call = { tool: "run_command", args: { command: "npm test", cwd: "pkg" } };
    const rule = alwaysAllowRule(call);
    assert.deepEqual(rule, { tool: "run_command", match: "npm test", action: "allow" });
    assert.equal(describeRule(rule!), 'run_command "npm test" → allow');
    // The rule it derives lets exactly that call through, and no other command.
    assert.ok(ruleMatches(rule!, { ...call, risk: "execute" }));
    assert.ok(
      !ruleMatches(rule!, { tool: "run_command", risk: "execute", args: { command: "npm test; rm -rf ." } }),
    );
  });

  it("takes a widened pattern from the person, and matches what it widens to", () => {
    const rule = alwaysAllowRule({ tool: "run_command", args: { command: "npm test" } }, "npm test*");
    assert.equal(describeRule(rule!), 'run_command "npm test*" → allow');
    assert.ok(
      ruleMatches(rule!, { tool: "run_command", risk: "execute", args: { command: "npm test -- --bail" } }),
    );
  });

  it("never derives one for the plan checkpoint", () => {
    assert.equal(alwaysAllowRule({ tool: PLAN_APPROVAL_TOOL, args: { facts: [], steps: [] } }), undefined);
    assert.equal(alwaysAllowRule({ tool: PLAN_APPROVAL_TOOL, args: {} }, "*"), undefined);
  });

  it("reads the main argument as command, then path, then pattern, then url, else the JSON", () => {
    assert.equal(mainArgument({ path: "src/a.ts", command: "ls" }), "ls");
    assert.equal(mainArgument({ path: "src/a.ts", content: "x" }), "src/a.ts");
    assert.equal(mainArgument({ pattern: "TODO" }), "TODO");
    assert.equal(mainArgument({ url: "https://example.test/" }), "https://example.test/");
    assert.equal(mainArgument({ n: 1 }), '{"n":1}');
    assert.equal(mainArgument(undefined), "{}");
  });

  it("parses --allow/--deny flags, the pattern after the first colon", () => {
    assert.deepEqual(parseRuleFlag("run_command:npm run a:b", "deny"), {
      tool: "run_command",
      match: "npm run a:b",
      action: "deny",
    });
    assert.deepEqual(parseRuleFlag("read_file", "allow"), { tool: "read_file", action: "allow" });
  });
});
