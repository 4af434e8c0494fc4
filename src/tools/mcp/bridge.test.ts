import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";
import { toolSpec } from "../run-tool.ts";
import type { ToolContext } from "../tool.ts";
import { connectMcpServers, expandVariables, type McpServerSpec } from "./bridge.ts";
import { mcpToolName } from "./names.ts";
import { mcpResultText } from "./result.ts";

const FIXTURE = fileURLToPath(new URL("../../../test/e2e/fixtures/mcp-notes-server.ts", import.meta.url));
const ctx = { signal: new AbortController().signal } as ToolContext;
const base = { risk: "execute", startupTimeoutMs: 10_000, callTimeoutMs: 10_000 } as const;

describe("MCP tool names", () => {
  it("namespaces with __ and keeps to the characters every provider accepts", () => {
    assert.equal(mcpToolName("github", "create_issue"), "github__create_issue");
    assert.equal(mcpToolName("fs", "read.file v2"), "fs__read_file_v2");
    const long = mcpToolName("server", "x".repeat(100));
    assert.equal(long.length, 64);
    assert.match(long, /^[a-zA-Z0-9_-]+$/);
    assert.notEqual(long, mcpToolName("server", `${"x".repeat(99)}y`));
  });

  it("expands $-brace placeholders from the environment and names a missing one", () => {
    assert.equal(expandVariables(`Bearer \${TOKEN}`, { TOKEN: "t" }, "headers.Authorization"), "Bearer t");
    assert.throws(
      () => expandVariables(`\${NOPE}`, {}, "env.KEY"),
      /env\.KEY uses \$\{NOPE\}, which is not set/,
    );
  });

  it("turns results into text without inlining binary data", () => {
    assert.equal(
      mcpResultText({
        content: [
          { type: "text", text: "hello" },
          { type: "image", mimeType: "image/png", data: "A".repeat(4096) },
          { type: "resource", resource: { uri: "file:///a.txt", text: "A" } },
        ],
      }),
      "hello\n[image image/png, 3 KiB omitted]\n[resource file:///a.txt]\nA",
    );
    assert.equal(mcpResultText({ content: [], structuredContent: { n: 1 } }), '{\n  "n": 1\n}');
  });
});

describe("connectMcpServers over stdio", () => {
  it("lists tools with their JSON Schema, calls them, and reports servers that fail or stop", async () => {
    const stopped: string[] = [];
    const bridge = await connectMcpServers(
      [
        {
          name: "notes",
          command: process.execPath,
          args: [FIXTURE],
          toolRisk: { list_notes: "read" },
          ...base,
        },
        { name: "broken", command: process.execPath, args: [FIXTURE, "--crash-on-start"], ...base },
      ],
      { onStopped: (p) => stopped.push(p.message) },
    );
    try {
      assert.deepEqual(bridge.servers, [
        {
          name: "notes",
          tools: ["notes__add_note", "notes__list_notes", "notes__fail", "notes__crash"],
          version: "1.2.3",
        },
      ]);
      assert.equal(bridge.failures.length, 1);
      assert.match(bridge.failures[0]!.message, /^MCP server "broken" failed to start: /);
      assert.equal(bridge.failures[0]!.stderr, "notes-server: fatal: cannot open the notes database");
      const [add, list, fail, crash] = bridge.tools;
      assert.equal(add!.risk, "execute");
      assert.equal(list!.risk, "read");
      assert.deepEqual(toolSpec(add!).inputSchema, {
        type: "object",
        properties: {
          text: { type: "string", description: "The note" },
          tags: { type: "array", items: { type: "string" } },
        },
        required: ["text"],
      });
      assert.match(
        add!.description,
        /Adds a note to the notebook\.\n\n\(Tool "add_note" of the MCP server "notes"\.\)/,
      );
      assert.equal(
        add!.input.safeParse({ text: 42 }).success,
        false,
        "arguments are validated before the call",
      );
      assert.equal((await add!.execute({ text: "a" }, ctx)).output, "Saved note #1: a");
      assert.equal((await list!.execute({}, ctx)).output, "1. a");
      const failed = await fail!.execute({}, ctx);
      assert.deepEqual([failed.output, failed.isError], ["the notebook is read-only today", true]);
      await assert.rejects(crash!.execute({}, ctx), /stopped during the run.*segfault/s);
      const after = await add!.execute({ text: "b" }, ctx);
      assert.equal(after.isError, true);
      assert.match(after.output, /unavailable from now on/);
      assert.equal(stopped.length, 1);
    } finally {
      await bridge.close();
    }
  });
});

describe("connectMcpServers over streamable HTTP", () => {
  let http: Server;
  let url: string;
  let seenAuth: string | undefined;

  before(async () => {
    http = createServer(async (req, res) => {
      seenAuth = req.headers.authorization;
      const mcp = new McpServer({ name: "calc", version: "0.1.0" });
      mcp.registerTool(
        "add",
        { description: "Adds two numbers.", inputSchema: { a: z.number(), b: z.number() } },
        async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }] }),
      );
      // Stateless: a server and transport per request, as the SDK's examples do.
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        transport.close();
        mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });

  after(() => new Promise<void>((resolve) => http.close(() => resolve())));

  it("connects with the configured headers and calls a tool", async () => {
    const spec: McpServerSpec = {
      name: "calc",
      url,
      headers: { Authorization: `Bearer \${CALC_TOKEN}` },
      ...base,
    };
    const bridge = await connectMcpServers([spec], { env: { CALC_TOKEN: "tok" } });
    try {
      assert.deepEqual(bridge.failures, []);
      assert.equal(seenAuth, "Bearer tok");
      const add = bridge.tools.find((t) => t.name === "calc__add")!;
      assert.equal((await add.execute({ a: 2, b: 3 }, ctx)).output, "5");
    } finally {
      await bridge.close();
    }
  });

  it("reports an unreachable server instead of throwing", async () => {
    const bridge = await connectMcpServers([{ name: "gone", url: "http://127.0.0.1:9/mcp", ...base }]);
    assert.equal(bridge.tools.length, 0);
    assert.match(bridge.failures[0]!.message, /^MCP server "gone" failed to start: /);
  });
});
