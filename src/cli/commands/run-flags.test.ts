import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOptionsOf } from "./run-flags.ts";

describe("runOptionsOf: what the run flags ask of a run (run and acp alike)", () => {
  it("carries the limits, budgets, verification and setup flags under the request's names", () => {
    const options = runOptionsOf({
      workspaceQuota: 200,
      maxProcesses: 64,
      maxSteps: 5,
      maxTokens: 1000,
      maxCost: 0.5,
      verify: false,
      setup: "npm ci",
      setupNetwork: true,
      sandbox: "gvisor",
      image: "node",
    });
    assert.equal(options.workspaceQuotaMb, 200);
    assert.equal(options.maxProcesses, 64);
    assert.equal(options.maxSteps, 5);
    assert.equal(options.maxTokens, 1000);
    assert.equal(options.maxCostUsd, 0.5);
    assert.equal(options.verify, false);
    assert.equal(options.setupCommand, "npm ci");
    assert.equal(options.setupNetwork, "on");
    assert.equal(options.sandbox, "gvisor");
    assert.equal(options.image, "node");
  });

  it("leaves what was not asked to the configuration", () => {
    const options = runOptionsOf({ verify: true });
    assert.equal(options.verify, undefined);
    assert.equal(options.setupNetwork, undefined);
    assert.equal(options.rules, undefined);
    assert.equal(options.workspaceQuotaMb, undefined);
  });

  it("turns --allow/--ask/--deny into approval rules, allow first, each kind in the order given", () => {
    const options = runOptionsOf({
      deny: ["run_command:rm *"],
      allow: ["run_command:npm test"],
      ask: ["write_file"],
    });
    assert.deepEqual(
      options.rules?.map((r) => r.action),
      ["allow", "ask", "deny"],
    );
  });
});
