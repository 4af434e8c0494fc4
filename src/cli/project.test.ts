import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../../test/support/workspace.ts";
import { mcpServerSchema } from "../config/index.ts";
import { loadProject } from "./project.ts";

/**
 * A trusted repository's MCP server runs a script of the repository, from the run's workspace, outside
 * the sandbox. If the run's agents changed that script (a hostile model writes `tools/mcp.js`), starting
 * it again — on resume — would run the model's code on the host.
 */
describe("loadProject: MCP servers started from the workspace", () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  after(() => dir?.cleanup());

  it("does not start a server whose script the run changed, and says why", async () => {
    dir = await tempDir("entourage-project-");
    const repo = path.join(dir.path, "repo");
    const workspace = path.join(dir.path, "workspace");
    const marker = path.join(dir.path, "PWNED");
    for (const root of [repo, workspace]) mkdirSync(path.join(root, "tools"), { recursive: true });
    writeFileSync(path.join(repo, "tools", "mcp.js"), "process.exit(0)\n");
    // What the model wrote into the workspace copy.
    writeFileSync(
      path.join(workspace, "tools", "mcp.js"),
      `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran")\n`,
    );
    const server = mcpServerSchema.parse({
      command: process.execPath,
      args: ["tools/mcp.js"],
      startupTimeoutSeconds: 5,
    });
    const project = await loadProject({
      repo,
      home: path.join(dir.path, "home"),
      config: { mcpServers: { notes: server }, plugins: [], pipeline: undefined },
      workspace,
      model: { provider: "openai-compatible", id: "m", scripted: false },
      env: { PATH: process.env.PATH ?? "" },
    });
    await project.close();
    assert.equal(existsSync(marker), false, "the changed script must not run");
    const failure = project.events.find((e) => e.type === "extension.failed");
    assert.match(
      String((failure?.data as { message?: string } | undefined)?.message),
      /Not started: it runs tools\/mcp\.js from the run's workspace.*the run changed that file/,
    );
  });
});
