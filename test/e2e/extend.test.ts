import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  cliEnv,
  fakeModelFlags,
  jsonLines,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  tempDir,
} from "../helpers/cli.ts";
import { assertNoCrash, describeResult } from "./support.ts";

type Event = { runId: string; type: string; agentId?: string; seq: number; data: Record<string, unknown> };

const MCP_SERVER = join(ROOT, "test", "e2e", "fixtures", "mcp-notes-server.ts");
const PLUGIN_API = join(ROOT, "dist", "cli", "plugin.cjs");

function write(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

const finish = (summary: string, extra: Record<string, unknown> = {}) => ({
  name: "finish",
  arguments: { status: "done", summary, files_changed: [], ...extra },
});

const toolNames = (body: unknown) =>
  ((body as { tools?: { function: { name: string } }[] }).tools ?? []).map((t) => t.function.name);

const systemPrompt = (body: unknown) =>
  String(
    (body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === "system")
      ?.content,
  );

/**
 * Extending a run, end to end over the built CLI and the fake model server: project instructions reach
 * every prompt; a real MCP server (the SDK's McpServer over stdio) provides tools an agent calls through
 * the approval gate; a plugin registers a tool and sees run.finished; broken agent files, MCP servers that
 * do not start or crash mid-run and a plugin that throws are reported without stopping the run.
 */
describe("entourage run with AGENTS.md, MCP servers and plugins (single mode)", () => {
  let home: string;
  let repo: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  let run: Awaited<ReturnType<typeof runCli>>;
  let events: Event[];
  const notesLog = () => join(home, "notes.log");
  const finishedLog = () => join(home, "finished.log");

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    write(join(repo, "AGENTS.md"), "# House rules\n\nDates are always UTC. MARKER-AGENTS-42\n");
    write(join(repo, ".entourage", "instructions.md"), "Prefer small diffs. MARKER-INSTR-7\n");
    write(
      join(repo, ".entourage", "agents", "sloppy.md"),
      "---\ndescription: Missing its tools field name\ntool: [read_file]\n---\nYou are broken.\n",
    );
    write(
      join(repo, ".entourage", "entourage.plugin.ts"),
      `import { appendFileSync } from "node:fs";
import { definePlugin, defineTool, z } from ${JSON.stringify(PLUGIN_API)};

export default definePlugin({
  name: "stamper",
  setup(ctx) {
    ctx.registerTool(
      defineTool({
        name: "plugin_stamp",
        description: "Stamps a label.",
        input: z.object({ label: z.string() }),
        risk: "read",
        async execute(input) {
          return { output: "stamped " + input.label };
        },
      }),
    );
    ctx.onEvent(async (event) => {
      if (event.type === "run.finished") {
        await new Promise((r) => setTimeout(r, 50));
        appendFileSync(${JSON.stringify(join("HOME_DIR", "finished.log"))}.replace("HOME_DIR", process.env.ENTOURAGE_HOME), event.type + " " + event.data.status + "\\n");
      }
    });
  },
});
`,
    );
    write(
      join(repo, ".entourage", "throws.plugin.ts"),
      `export default { name: "thrower", setup() { throw new Error("no webhook URL configured"); } };\n`,
    );
    write(
      join(repo, ".entourage", "config.json"),
      JSON.stringify({
        plugins: ["./entourage.plugin.ts", "./throws.plugin.ts"],
        mcpServers: {
          notes: {
            command: process.execPath,
            args: [MCP_SERVER],
            env: { NOTES_LOG: `\${NOTES_LOG_PATH}`, NOTES_SECRET: `\${TEST_NOTES_SECRET}` },
          },
          broken: { command: process.execPath, args: [MCP_SERVER, "--crash-on-start"] },
          missing: { command: "no-such-mcp-server-entourage" },
        },
      }),
    );
    server = await startFakeModelServer({
      scenario: [
        {
          name: "add a note",
          expectTools: ["notes__add_note", "notes__crash", "plugin_stamp", "read_file", "finish"],
          expectMessageContains: ["MARKER-AGENTS-42", "MARKER-INSTR-7"],
          toolCalls: [{ name: "notes__add_note", arguments: { text: "dates are UTC", tags: ["dates"] } }],
        },
        {
          name: "stamp",
          expectMessageContains: ["Saved note #1: dates are UTC [dates]"],
          toolCalls: [{ name: "plugin_stamp", arguments: { label: "L1" } }],
        },
        {
          name: "crash the server",
          expectMessageContains: ["stamped L1"],
          toolCalls: [{ name: "notes__crash", arguments: {} }],
        },
        {
          name: "finish",
          expectMessageContains: ["stopped during the run"],
          toolCalls: [finish("Noted, stamped, and survived a crashing MCP server.")],
        },
      ],
    });
    // The repository's plugins and MCP servers run on this machine: they load once the user trusts it.
    const trusted = await runCli(["trust", repo], { env: cliEnv(home) });
    assert.equal(trusted.code, 0, trusted.stderr);
    run = await runCli(
      [
        "run",
        "Take notes",
        "--repo",
        repo,
        ...fakeModelFlags(server),
        "--mode",
        "single",
        "--sandbox",
        "subprocess",
        "--yes",
        "--ask",
        "notes__*",
        "--json",
        "--no-server",
      ],
      {
        env: cliEnv(home, {
          NOTES_LOG_PATH: join(home, "notes.log"),
          TEST_NOTES_SECRET: "s3cret",
          UNRELATED_SECRET: "must-not-leak",
        }),
      },
    );
    events = jsonLines(run.stdout) as unknown as Event[];
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("succeeds, with every turn served and every expectation met", () => {
    assertNoCrash(run);
    assert.equal(run.code, 0, describeResult(run));
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    assert.equal(events.at(-1)?.type, "run.finished");
    assert.equal(events.at(-1)?.data.status, "succeeded");
  });

  it("gives AGENTS.md and .entourage/instructions.md to the agent, recorded in run.created", () => {
    const created = events.find((e) => e.type === "run.created")!;
    const context = String(created.data.projectContext);
    assert.match(context, /## Project instructions \(from AGENTS\.md\)\n\n# House rules/);
    assert.match(
      context,
      /## Project instructions \(from \.entourage\/instructions\.md\)\n\nPrefer small diffs/,
    );
    const system = systemPrompt(server.requests[0]!.body);
    assert.ok(system.includes(context), "the recorded context is what the model got");
    assert.match(system, /MARKER-AGENTS-42/);
  });

  it("calls the MCP server's tool through the approval gate, with its JSON Schema offered to the model", () => {
    const spec = (
      server.requests[0]!.body as { tools: { function: { name: string; parameters: unknown } }[] }
    ).tools.find((t) => t.function.name === "notes__add_note");
    assert.deepEqual(spec?.function.parameters, {
      type: "object",
      properties: {
        text: { type: "string", description: "The note" },
        tags: { type: "array", items: { type: "string" } },
      },
      required: ["text"],
    });
    const requested = events.find(
      (e) => e.type === "tool.call.requested" && e.data.name === "notes__add_note",
    )!;
    assert.equal(requested.data.risk, "execute");
    const asked = events.find((e) => e.type === "approval.requested" && e.data.tool === "notes__add_note")!;
    assert.match(String(asked.data.reason), /rule notes__\* → ask/);
    const resolved = events.find(
      (e) => e.type === "approval.resolved" && e.data.approvalId === asked.data.approvalId,
    )!;
    assert.equal(resolved.data.decision, "approve");
    assert.equal(resolved.data.by, "--yes");
    const ended = events.find((e) => e.type === "tool.call.ended" && e.data.name === "notes__add_note")!;
    assert.equal(ended.data.output, "Saved note #1: dates are UTC [dates]");
    assert.equal(ended.data.isError, false);
  });

  it("starts the server with only the configured environment (variables expanded) plus PATH", () => {
    assert.equal(readFileSync(notesLog(), "utf8"), "dates are UTC|s3cret|-\n");
  });

  it("reports MCP servers that fail to start, with their stderr, and one that crashes mid-run", () => {
    const failed = events.filter((e) => e.type === "extension.failed" && e.data.kind === "mcp");
    const broken = failed.find((e) => e.data.name === "broken")!;
    assert.match(String(broken.data.message), /MCP server "broken" failed to start/);
    assert.match(String(broken.data.message), /cannot open the notes database/);
    const missing = failed.find((e) => e.data.name === "missing")!;
    assert.match(String(missing.data.message), /"no-such-mcp-server-entourage" was not found/);
    const crashed = failed.find((e) => e.data.name === "notes")!;
    assert.match(String(crashed.data.message), /stopped during the run.*\n.*segfault in crash\(\)/s);
    const crashCall = events.find((e) => e.type === "tool.call.ended" && e.data.name === "notes__crash")!;
    assert.equal(crashCall.data.isError, true);
    const loaded = events.find((e) => e.type === "extension.loaded" && e.data.kind === "mcp")!;
    assert.deepEqual(loaded.data.tools, [
      "notes__add_note",
      "notes__list_notes",
      "notes__fail",
      "notes__crash",
    ]);
  });

  it("reports a broken agent file naming the file and the field, and a plugin that throws", () => {
    const agent = events.find((e) => e.type === "extension.failed" && e.data.kind === "agent")!;
    assert.match(String(agent.data.message), /agents\/sloppy\.md: unknown field "tool"/);
    const plugin = events.find((e) => e.type === "extension.failed" && e.data.kind === "plugin")!;
    assert.match(String(plugin.data.message), /plugin "thrower".*skipped: no webhook URL configured/);
  });

  it("runs the plugin's tool and delivers run.finished to its listener before the process exits", () => {
    const stamp = events.find((e) => e.type === "tool.call.ended" && e.data.name === "plugin_stamp")!;
    assert.equal(stamp.data.output, "stamped L1");
    assert.equal(readFileSync(finishedLog(), "utf8"), "run.finished succeeded\n");
  });
});

describe("custom agents as files (dynamic and pipeline modes)", () => {
  let home: string;
  let repo: string;

  before(() => {
    home = tempDir("home");
    repo = makeSampleRepo();
    write(
      join(repo, ".entourage", "agents", "security-reviewer.md"),
      [
        "---",
        "description: Reviews the change for security problems.",
        "tools: [read_file, search]",
        "model: fake-small",
        "maxSteps: 5",
        "---",
        "You are a security reviewer. MARKER-REVIEWER-ROLE",
        "",
      ].join("\n"),
    );
    // A broken user-level file: reported, and the repo's agent still loads.
    write(join(home, "agents", "helper.md"), "You forgot the frontmatter.\n");
  });

  after(() => {
    removeDir(home);
    removeDir(repo);
  });

  it("lets the planner delegate to a custom agent, on its own model, and refuses tools outside its allow-list", async () => {
    const server = await startFakeModelServer({
      scenario: [
        {
          name: "planner delegates",
          toolCalls: [
            {
              name: "delegate",
              arguments: { tasks: [{ agent: "security-reviewer", task: "Review src/date.js" }] },
            },
          ],
        },
        {
          name: "reviewer tries a tool it does not have",
          expectTools: ["read_file", "search", "finish"],
          expectMessageContains: ["MARKER-REVIEWER-ROLE", "Review src/date.js"],
          toolCalls: [{ name: "write_file", arguments: { path: "src/x.js", content: "x" } }],
        },
        {
          name: "reviewer finishes",
          expectMessageContains: ["not in this agent's tool allow-list"],
          toolCalls: [finish("NO-SECURITY-ISSUES")],
        },
        {
          name: "planner finishes",
          expectMessageContains: ["NO-SECURITY-ISSUES"],
          toolCalls: [finish("Reviewed.")],
        },
      ],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Review the date code",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--mode",
          "dynamic",
          "--sandbox",
          "subprocess",
          "--yes",
          "--json",
          "--no-server",
        ],
        { env: cliEnv(home) },
      );
      assertNoCrash(run);
      assert.equal(run.code, 0, describeResult(run));
      assert.deepEqual(server.failures, []);
      const events = jsonLines(run.stdout) as unknown as Event[];
      // The delegate tool lists the custom agent next to the built-ins.
      const delegate = (
        server.requests[0]!.body as { tools: { function: { name: string; description: string } }[] }
      ).tools.find((t) => t.function.name === "delegate")!;
      assert.match(
        delegate.function.description,
        /security-reviewer \(Reviews the change for security problems\.\)/,
      );
      assert.match(delegate.function.description, /implementer \(/);
      // Its own model, and only its allow-list offered.
      const reviewerRequest = server.requests[1]!.body as { model: string };
      assert.equal(reviewerRequest.model, "fake-small");
      assert.deepEqual(toolNames(reviewerRequest).sort(), ["finish", "read_file", "search"]);
      const started = events.find((e) => e.type === "agent.started" && e.data.name === "security-reviewer")!;
      assert.equal(started.data.model, "openai-compatible/fake-small");
      // The call outside the allow-list was refused by the agent loop, never run.
      const refused = events.find((e) => e.type === "tool.call.ended" && e.data.name === "write_file")!;
      assert.equal(refused.data.isError, true);
      assert.equal(refused.data.skipped, "not_allowed");
      assert.ok(!events.some((e) => e.type === "tool.call.started" && e.data.name === "write_file"));
      // The broken user file is reported by name; the repo's agent loaded.
      const failed = events.find((e) => e.type === "extension.failed" && e.data.kind === "agent")!;
      assert.match(String(failed.data.message), /agents\/helper\.md: no frontmatter/);
      assert.ok(
        events.some(
          (e) =>
            e.type === "extension.loaded" && e.data.kind === "agent" && e.data.name === "security-reviewer",
        ),
      );
    } finally {
      await server.close();
    }
  });

  it("runs a custom agent as an extra pipeline phase after the Refactorer (pipeline.after.refactor)", async () => {
    write(
      join(repo, ".entourage", "config.json"),
      JSON.stringify({ pipeline: { after: { refactor: ["security-reviewer", "ghost"] } } }),
    );
    const server = await startFakeModelServer({
      scenario: [
        { name: "analyzer", toolCalls: [finish("The date formatting is off by one.")] },
        {
          name: "plan",
          toolCalls: [
            {
              name: "propose_plan",
              arguments: {
                facts: ["months are zero-based"],
                steps: [{ description: "fix", owner: "implementer" }],
              },
            },
          ],
        },
        { name: "implementer", toolCalls: [finish("Fixed it.")] },
        { name: "tester runs", toolCalls: [{ name: "run_command", arguments: { command: "true" } }] },
        { name: "tester", toolCalls: [finish("Tests pass.", { tests_passed: true })] },
        { name: "refactorer", toolCalls: [finish("Nothing to clean up.")] },
        {
          name: "security reviewer",
          expectMessageContains: ["MARKER-REVIEWER-ROLE", "The Refactorer's report", "Nothing to clean up."],
          toolCalls: [finish("SECURITY-OK")],
        },
        {
          name: "final tester runs",
          expectMessageContains: ["SECURITY-OK"],
          toolCalls: [{ name: "run_command", arguments: { command: "true" } }],
        },
        { name: "final tester", toolCalls: [finish("Still green.", { tests_passed: true })] },
      ],
    });
    try {
      const run = await runCli(
        [
          "run",
          "Fix the date bug",
          "--repo",
          repo,
          ...fakeModelFlags(server),
          "--mode",
          "pipeline",
          "--test-command",
          "true",
          "--sandbox",
          "subprocess",
          "--yes",
          "--json",
          "--no-server",
        ],
        { env: cliEnv(home) },
      );
      assertNoCrash(run);
      assert.equal(run.code, 0, describeResult(run));
      assert.deepEqual(server.failures, []);
      assert.equal(server.remainingTurns(), 0);
      const events = jsonLines(run.stdout) as unknown as Event[];
      const phases = events
        .filter((e) => e.type === "agent.started")
        .map((e) => `${e.data.name}:${e.data.phase}`);
      assert.deepEqual(phases, [
        "pipeline:orchestrator",
        "analyzer:analyze",
        "implementer:plan",
        "implementer:implement#1",
        "tester:test#1",
        "refactorer:refactor",
        "security-reviewer:refactor+security-reviewer",
        "tester:test#final",
      ]);
      const created = events.find((e) => e.type === "run.created")!;
      assert.deepEqual(created.data.pipeline, { after: { refactor: ["security-reviewer"] } });
      const ghost = events.find((e) => e.type === "extension.failed" && e.data.kind === "pipeline")!;
      assert.match(String(ghost.data.message), /pipeline\.after\.refactor names the agent "ghost"/);
      const finished = events.at(-1)!;
      assert.equal(finished.data.status, "succeeded");
      assert.match(String(finished.data.summary), /security-reviewer: SECURITY-OK/);
    } finally {
      await server.close();
    }
  });
});
