import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { tempDir } from "../../test/support/workspace.ts";
import { UserError } from "../core/index.ts";
import { loadConfig, loadProjectTrust } from "./config.ts";
import { configSchema } from "./schema.ts";
import { recordTrust } from "./trust.ts";

/**
 * Regression guard: `configSchema.partial()` in zod 4 still fills in `.default()` values, so validating
 * each layer with it made every later layer (the flags layer is always present) reset defaulted fields
 * of the layers below — a user's `"maxSteps": 10` in config.json was silently ignored.
 */
const DEFAULTS_BUG =
  "a lower layer's value was reset to the default by a later layer (src/config/config.ts validate(): " +
  "a layer must contribute only the fields it sets, not the schema's defaults)";

describe("loadConfig", () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let repo: string;
  let n = 0;

  beforeEach(async () => {
    dir ??= await tempDir("entourage-config-");
    n += 1;
    home = path.join(dir.path, `home${n}`);
    repo = path.join(dir.path, `repo${n}`);
    await mkdir(home, { recursive: true });
    await mkdir(path.join(repo, ".entourage"), { recursive: true });
  });
  after(() => dir?.cleanup());

  const userFile = (value: unknown) =>
    writeFile(path.join(home, "config.json"), typeof value === "string" ? value : JSON.stringify(value));
  const projectFile = (value: unknown) =>
    writeFile(
      path.join(repo, ".entourage", "config.json"),
      typeof value === "string" ? value : JSON.stringify(value),
    );
  const userError = (pattern: RegExp) => (e: unknown) => {
    assert.ok(UserError.isInstance(e), `expected a UserError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  };

  it("uses the documented defaults when nothing is configured", () => {
    const config = loadConfig({ home, repo, env: {} });
    assert.deepEqual(config, {
      approval: "ask-risky",
      mode: "pipeline",
      verify: true,
      setupNetwork: "off",
      maxFixRounds: 3,
      maxSteps: 50,
      commandTimeoutSeconds: 300,
      workspaceQuotaMb: 2048,
      maxProcesses: 512,
      modelIdleTimeoutSeconds: 60,
      maxRetries: 5,
      network: "off",
      sandboxEnv: {},
      dependencyDirs: [
        "node_modules",
        ".venv",
        "venv",
        "vendor",
        "target",
        "bower_components",
        "__pypackages__",
      ],
      toolchainPaths: [],
      entourageRuntime: false,
      mcpServers: {},
      plugins: [],
      approvalRules: [],
      approvalTimeoutDecision: "deny",
    });
  });

  it("keeps a defaulted field set in the user file when no later layer sets it", async () => {
    await userFile({ maxSteps: 12, approval: "auto", commandTimeoutSeconds: 30, network: "on" });
    const config = loadConfig({ home, repo, env: {}, flags: {} });
    assert.deepEqual(
      [config.maxSteps, config.approval, config.commandTimeoutSeconds, config.network],
      [12, "auto", 30, "on"],
      DEFAULTS_BUG,
    );
  });

  it("layers defaults < user file < project file < ENTOURAGE_* env < flags, field by field", async () => {
    await userFile({ model: "user-model", maxSteps: 10, approval: "auto", network: "on", maxRetries: 1 });
    await projectFile({ model: "project-model", maxSteps: 20, approval: "ask-all" });
    const env = { ENTOURAGE_MODEL: "env-model", ENTOURAGE_MAX_STEPS: "30" };
    const flags = { model: "flag-model" };
    const config = loadConfig({ home, repo, env, flags });
    assert.equal(config.model, "flag-model", "flags beat env");
    assert.equal(
      config.maxSteps,
      30,
      `env beats the project file (and is parsed as a number): ${DEFAULTS_BUG}`,
    );
    assert.equal(config.approval, "ask-all", "the project file beats the user file");
    assert.equal(config.network, "on", "the user file beats the defaults");
    assert.equal(config.maxRetries, 1);
    assert.equal(config.commandTimeoutSeconds, 300, "untouched fields keep their defaults");

    // each layer removed in turn exposes the one below it
    assert.equal(loadConfig({ home, repo, env }).model, "env-model");
    assert.equal(loadConfig({ home, repo, env: {} }).model, "project-model");
    assert.equal(loadConfig({ home, env: {} }).model, "user-model", "no repo: no project layer");
  });

  it("reads ENTOURAGE_* variables for the fields they map to", () => {
    const config = loadConfig({
      home,
      env: {
        ENTOURAGE_PROVIDER: "anthropic",
        ENTOURAGE_BASE_URL: "http://localhost:11434/v1",
        ENTOURAGE_SANDBOX: "subprocess",
        ENTOURAGE_APPROVAL: "plan",
        ENTOURAGE_MAX_COST_USD: "2.5",
        ENTOURAGE_MAX_STEPS: "",
      },
    });
    assert.equal(config.provider, "anthropic");
    assert.equal(config.baseUrl, "http://localhost:11434/v1");
    assert.equal(config.sandbox, "subprocess");
    assert.equal(config.approval, "plan", DEFAULTS_BUG);
    assert.equal(config.maxCostUsd, 2.5);
    assert.equal(config.maxSteps, 50, "an empty variable counts as unset");
  });

  it("ignores flags left undefined, so an absent flag does not erase a lower layer", async () => {
    await userFile({ model: "user-model", maxSteps: 7 });
    const config = loadConfig({
      home,
      env: {},
      flags: { model: undefined, maxSteps: undefined, approval: "auto" },
    });
    assert.equal(config.model, "user-model");
    assert.equal(config.maxSteps, 7, DEFAULTS_BUG);
    assert.equal(config.approval, "auto");
  });

  it("names the file when it is not valid JSON", async () => {
    await projectFile("{ model: 'x', }");
    const file = path.join(repo, ".entourage", "config.json");
    assert.throws(
      () => loadConfig({ home, repo, env: {} }),
      userError(new RegExp(`config file ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid JSON`)),
    );
  });

  it("refuses a file whose top level is not an object, naming it", async () => {
    await userFile("[1, 2]");
    assert.throws(() => loadConfig({ home, env: {} }), userError(/config\.json is not valid JSON.*object/));
  });

  it("names the field and the source of an invalid value", async () => {
    await userFile({ maxSteps: -3 });
    assert.throws(
      () => loadConfig({ home, env: {} }),
      userError(new RegExp(`Invalid setting "maxSteps" in ${path.join(home, "config.json")}`)),
    );
    await userFile({});
    assert.throws(
      () => loadConfig({ home, env: { ENTOURAGE_MAX_STEPS: "lots" } }),
      userError(/Invalid setting "maxSteps" in the ENTOURAGE_\* environment variables/),
    );
    assert.throws(
      () => loadConfig({ home, env: {}, flags: { approval: "sometimes" } }),
      userError(/Invalid setting "approval" in the command-line flags/),
    );
    await projectFile({ sandboxEnv: { "BAD-NAME": "x" } });
    assert.throws(() => loadConfig({ home, repo, env: {} }), userError(/Invalid setting "sandboxEnv/));
  });

  it("merges MCP servers by name across layers and accumulates plugins, paths relative to their file", async () => {
    await userFile({
      mcpServers: {
        github: { command: "gh-mcp", env: { TOKEN: "$GH" } },
        notes: { url: "http://127.0.0.1:9/mcp" },
      },
      plugins: ["./user.plugin.ts"],
    });
    await projectFile({
      mcpServers: { notes: { command: "notes-mcp", cwd: "tools", risk: "read", agents: ["tester"] } },
      plugins: ["./entourage.plugin.ts", "/abs/p.ts"],
      pipeline: { after: { refactor: ["security-reviewer"] } },
    });
    recordTrust(home, loadProjectTrust({ home, repo, env: {} })!); // MCP servers and plugins need trust
    const config = loadConfig({ home, repo, env: {} });
    assert.deepEqual(Object.keys(config.mcpServers), ["github", "notes"]);
    assert.equal(config.mcpServers.github?.risk, "execute", "tools of an MCP server are execute by default");
    assert.equal(config.mcpServers.notes?.command, "notes-mcp", "the project's server replaces the user's");
    assert.equal(config.mcpServers.notes?.url, undefined);
    assert.equal(config.mcpServers.notes?.cwd, path.join(repo, ".entourage", "tools"));
    assert.deepEqual(config.plugins, [
      path.join(home, "user.plugin.ts"),
      path.join(repo, ".entourage", "entourage.plugin.ts"),
      "/abs/p.ts",
    ]);
    assert.deepEqual(config.pipeline, { after: { refactor: ["security-reviewer"] } });
  });

  it("names the MCP server whose entry is invalid", async () => {
    await projectFile({ mcpServers: { both: { command: "x", url: "http://127.0.0.1/mcp" } } });
    assert.throws(
      () => loadConfig({ home, repo, env: {} }),
      userError(/Invalid setting "mcpServers\.both" .*either command .* or url/),
    );
    await projectFile({ mcpServers: { x: { command: "x", risk: "dangerous" } } });
    assert.throws(
      () => loadConfig({ home, repo, env: {} }),
      userError(/Invalid setting "mcpServers\.x\.risk"/),
    );
    await projectFile({ pipeline: { after: { deploy: ["x"] } } });
    assert.throws(() => loadConfig({ home, repo, env: {} }), userError(/Invalid setting "pipeline\.after/));
  });

  it("rejects an unknown field (a typo) instead of silently ignoring it", async () => {
    await projectFile({ maxStep: 5 });
    assert.throws(
      () => loadConfig({ home, repo, env: {} }),
      userError(/maxStep.*\.entourage\/config\.json|\.entourage\/config\.json.*maxStep/),
    );
  });

  it("describes every field, for the JSON Schema editors read", () => {
    for (const [name, field] of Object.entries(configSchema.shape)) {
      assert.ok(field.description, `field ${name} has no description`);
    }
  });
});
