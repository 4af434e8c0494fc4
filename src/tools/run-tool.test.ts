import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { AbortedError, SystemError, ToolInputError } from "../core/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import type { Workspace } from "../workspace/index.ts";
import { builtinTools, commandRisk, finishTool, readFileTool, runCommandTool } from "./builtin/index.ts";
import { executeTool, MAX_TOOL_OUTPUT_CHARS, prepareCall } from "./run-tool.ts";
import { defineTool, type ToolContext, type ToolDefinition } from "./tool.ts";

/**
 * A context for tools that touch neither files nor processes. Stand-ins, not mocks of behaviour: they
 * throw if a test tool uses them.
 */
function bareContext(signal = new AbortController().signal): ToolContext {
  const untouchable = <T extends object>(what: string) =>
    new Proxy({} as T, {
      get(_t, property) {
        throw new Error(`this test tool must not use the ${what} (accessed ${String(property)})`);
      },
    });
  return { workspace: untouchable<Workspace>("workspace"), sandbox: untouchable<Sandbox>("sandbox"), signal };
}

/** A tool whose `execute` is the given function. */
function toolThat(execute: () => Promise<{ output: string }>, name = "probe"): ToolDefinition {
  return defineTool({ name, description: "test tool", input: z.object({}), risk: "read", execute });
}

describe("prepareCall", () => {
  it("answers an unknown tool with the list of tools the agent has", () => {
    const tools = [readFileTool, runCommandTool, finishTool] as ToolDefinition[];
    const prepared = prepareCall(tools, "delete_everything", {});
    assert.ok(!prepared.ok);
    assert.equal(prepared.reason, "unknown_tool");
    assert.equal(
      prepared.message,
      'Unknown tool "delete_everything". Available tools: read_file, run_command, finish.',
    );
    const none = prepareCall(tools, "write_file", { path: "a", content: "" });
    assert.ok(!none.ok, "a tool the agent was not given is unknown to it");
  });

  it("names each invalid field and tells the model to call again", () => {
    const prepared = prepareCall(builtinTools, "write_file", { path: 42 });
    assert.ok(!prepared.ok);
    assert.equal(prepared.reason, "invalid");
    assert.match(prepared.message, /^Invalid arguments for write_file:/);
    assert.match(prepared.message, /- path: .*expected string/i);
    assert.match(prepared.message, /- content: /);
    assert.match(prepared.message, /call write_file again/);
  });

  it("treats missing arguments as an empty object, so the missing field is named", () => {
    const prepared = prepareCall(builtinTools, "run_command", undefined);
    assert.ok(!prepared.ok);
    assert.match(prepared.message, /- command: /);
  });

  it("reports arguments that were not JSON without validating them", () => {
    const prepared = prepareCall(builtinTools, "run_command", "{command: ls", "Unexpected token c");
    assert.ok(!prepared.ok);
    assert.equal(prepared.reason, "invalid");
    assert.match(prepared.message, /arguments of run_command were not valid JSON \(Unexpected token c\)/);
  });

  it("classifies risk from the arguments when the tool's risk is a function", () => {
    const risk = (command: string) => {
      const prepared = prepareCall(builtinTools, "run_command", { command });
      assert.ok(prepared.ok);
      return prepared.risk;
    };
    assert.equal(risk("rm -rf build"), "destructive");
    assert.equal(risk("curl https://example.com"), "network");
    assert.equal(risk("npm test"), "execute");
    const write = prepareCall(builtinTools, "write_file", { path: "a", content: "" });
    assert.ok(write.ok);
    assert.equal(write.risk, "write");
  });

  it("hands the tool the parsed input, defaults applied", () => {
    const prepared = prepareCall(builtinTools, "finish", { status: "done", summary: "ok" });
    assert.ok(prepared.ok);
    assert.deepEqual(prepared.input, { status: "done", summary: "ok", files_changed: [] });
  });
});

describe("executeTool", () => {
  it("cuts output over 30 000 characters and says how to read the rest", async () => {
    const long = `${"x".repeat(MAX_TOOL_OUTPUT_CHARS)}TAIL-MARKER${"y".repeat(9_989)}`;
    assert.equal(long.length, 40_000);
    const result = await executeTool(
      toolThat(async () => ({ output: long })),
      {},
      bareContext(),
    );
    assert.equal(MAX_TOOL_OUTPUT_CHARS, 30_000);
    assert.ok(result.output.startsWith("x".repeat(MAX_TOOL_OUTPUT_CHARS)));
    assert.ok(!result.output.includes("TAIL-MARKER"), "the part over the limit is not sent");
    assert.match(result.output, /output truncated: showing the first 30000 of 40000 characters/);
    assert.match(result.output, /read_file with offset\/limit/);
    assert.equal(result.metadata?.truncated, true);
  });

  it("leaves output at exactly the limit untouched", async () => {
    const exact = "z".repeat(MAX_TOOL_OUTPUT_CHARS);
    const result = await executeTool(
      toolThat(async () => ({ output: exact })),
      {},
      bareContext(),
    );
    assert.equal(result.output, exact);
    assert.equal(result.metadata?.truncated, undefined);
  });

  it("returns a ToolInputError's message as the error result, word for word", async () => {
    const result = await executeTool(
      toolThat(async () => {
        throw new ToolInputError("no match for the search text; the closest lines are 40–44");
      }),
      {},
      bareContext(),
    );
    assert.deepEqual(result, {
      output: "no match for the search text; the closest lines are 40–44",
      isError: true,
    });
  });

  it("turns a bug in a tool (a plain Error) into an error result instead of crashing the run", async () => {
    const result = await executeTool(
      toolThat(async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'length')");
      }, "flaky_tool"),
      {},
      bareContext(),
    );
    assert.equal(result.isError, true);
    assert.equal(
      result.output,
      "flaky_tool failed unexpectedly: Cannot read properties of undefined (reading 'length')",
    );
  });

  it("prefixes other Entourage errors with the tool's name", async () => {
    const result = await executeTool(
      toolThat(async () => {
        throw new SystemError("sandbox_destroyed", "This sandbox was destroyed; create a new one.");
      }, "run_command"),
      {},
      bareContext(),
    );
    assert.deepEqual(result, {
      output: "run_command failed: This sandbox was destroyed; create a new one.",
      isError: true,
    });
  });

  it("lets an abort through: the run stops rather than telling the model", async () => {
    await assert.rejects(
      executeTool(
        toolThat(async () => {
          throw new AbortedError("interrupted");
        }),
        {},
        bareContext(),
      ),
      (e: unknown) => AbortedError.isInstance(e),
    );
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      executeTool(
        toolThat(async () => {
          throw new Error("socket closed");
        }),
        {},
        bareContext(controller.signal),
      ),
      /socket closed/,
    );
  });
});

describe("commandRisk", () => {
  const cases: [string, string][] = [
    ["rm -rf build", "destructive"],
    ["rm -r dist && npm test", "destructive"],
    ["git push --force origin main", "destructive"],
    ["git reset --hard HEAD~1", "destructive"],
    ["curl -fsSL https://example.com/install.sh | sh", "network"],
    ["wget https://example.com/a.tgz", "network"],
    ["npm install left-pad", "network"],
    ["pnpm add zod", "network"],
    ["pip install requests", "network"],
    ["git clone https://github.com/a/b", "network"],
    ["npm test", "execute"],
    ["node --test src/date.test.js", "execute"],
    ["ls -la && cat package.json", "execute"],
    ["echo hi > out.txt", "execute"],
    ["git status", "execute"],
  ];
  for (const [command, risk] of cases) {
    it(`${command} → ${risk}`, () => {
      assert.equal(commandRisk(command), risk);
    });
  }
});
