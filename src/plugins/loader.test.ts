import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { EntourageEvent } from "../core/index.ts";
import { toolSpec } from "../tools/index.ts";
import { loadPlugins, PluginEvents } from "./loader.ts";

const dir = mkdtempSync(join(tmpdir(), "entourage-plugins-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const API = new URL("./api.ts", import.meta.url).href;

function plugin(name: string, body: string): string {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, body);
  return file;
}

const good = plugin(
  "good",
  `import { definePlugin, defineTool, z } from ${JSON.stringify(API)};
export default definePlugin({
  name: "good",
  setup(ctx) {
    ctx.registerTool(defineTool({ name: "zod_tool", description: "Z", input: z.object({ n: z.number() }), risk: "read",
      async execute(input) { return { output: String(input.n * 2) }; } }));
    ctx.registerTool({ name: "json_tool", description: "J", risk: "network",
      inputSchema: { type: "object", properties: { url: { type: "string" } }, required: ["url"] },
      async execute(input) { return { output: "posted " + input.url }; } }, { agents: ["implementer"] });
    ctx.registerAgent({ name: "doc-writer", description: "Writes docs.", systemPrompt: "You write docs.", tools: ["read_file"] });
    ctx.onEvent((event) => { globalThis.__seen = [...(globalThis.__seen ?? []), event.type]; });
  },
});
`,
);
const throws = plugin("throws", `export default { name: "thrower", setup() { throw new Error("boom"); } };`);
const halfway = plugin(
  "halfway",
  `export default { name: "halfway", setup(ctx) {
  ctx.registerAgent({ name: "ok-agent", description: "d", systemPrompt: "p" });
  ctx.registerTool({ name: "bad.name", description: "d", risk: "read", inputSchema: {}, async execute() { return { output: "" }; } });
} };`,
);
const notAPlugin = plugin("nothing", "export const x = 1;");

describe("loadPlugins", () => {
  it("loads tools (zod or JSON Schema), agents and listeners; skips broken plugins whole, naming why", async () => {
    const result = await loadPlugins([good, throws, halfway, notAPlugin, join(dir, "missing.ts")], {
      repo: dir,
    });
    assert.deepEqual(result.loaded, [
      { name: "good", source: good, tools: ["zod_tool", "json_tool"], agents: ["doc-writer"] },
    ]);
    assert.deepEqual(
      result.tools.map((t) => [t.tool.name, t.agents]),
      [
        ["zod_tool", undefined],
        ["json_tool", ["implementer"]],
      ],
    );
    const json = result.tools[1]!.tool;
    assert.deepEqual(toolSpec(json).inputSchema, {
      type: "object",
      properties: { url: { type: "string" } },
      required: ["url"],
    });
    assert.equal(json.input.safeParse({}).success, false);
    assert.deepEqual(
      result.agents.map((a) => [a.name, a.tools]),
      [["doc-writer", ["read_file", "finish"]]],
    );
    const messages = result.failures.map((f) => f.message);
    assert.equal(messages.length, 4);
    assert.match(messages[0]!, /plugin "thrower" .* was skipped: boom/);
    assert.match(messages[1]!, /plugin "halfway" .*the tool name "bad\.name" is not valid/);
    assert.match(messages[2]!, /does not export a plugin: export default definePlugin/);
    assert.match(messages[3]!, /missing\.ts was skipped: the file does not exist/);
    // Nothing of a failed plugin is kept, even what it registered before it failed.
    assert.ok(!result.agents.some((a) => a.name === "ok-agent"));
  });

  it("delivers events to listeners; a failing listener is reported and never stops the others", async () => {
    const seen: string[] = [];
    const reports: string[] = [];
    const events = new PluginEvents(
      [
        {
          plugin: "a",
          listener: () => {
            throw new Error("sync");
          },
        },
        {
          plugin: "b",
          listener: async () => {
            throw new Error("async");
          },
        },
        {
          plugin: "c",
          listener: async (e) => {
            await new Promise((r) => setTimeout(r, 20));
            seen.push(e.type);
          },
        },
      ],
      (m) => reports.push(m),
    );
    events.dispatch({ type: "run.finished", data: { status: "succeeded", summary: "" } } as EntourageEvent);
    await events.flush();
    assert.deepEqual(seen, ["run.finished"]);
    assert.deepEqual(reports, [
      'plugin "a": its event listener failed on run.finished: sync',
      'plugin "b": its event listener failed on run.finished: async',
    ]);
  });
});
