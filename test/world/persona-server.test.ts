import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { type Persona, parsePersona, type Recipe, startPersonaServer } from "./persona-server.ts";
import { callModel, drive, type LocalTool } from "./wire-client.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = join(HERE, "..", "..");

const RECIPE: Recipe = {
  file: "src/add.js",
  wrong: "a - b",
  right: "a + b",
  decoy: "b - a",
  classification: "bugfix",
};

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A project with the bug, a test script that really checks it, and a package.json naming the script. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "persona-project-"));
  dirs.push(dir);
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src/add.js"), "export function add(a, b) {\n  return a - b;\n}\n");
  writeFileSync(
    join(dir, "test.sh"),
    'if grep -q "a + b" src/add.js; then echo "1 passed"; else echo "add(1, 2) expected 3"; echo "1 failed"; exit 1; fi\n',
  );
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "adder", scripts: { test: "sh test.sh" } })}\n`,
  );
  return dir;
}

const str = { type: "string" };

/** Tools with names no particular harness uses, executed for real in `dir`. */
function oddTools(dir: string, extra: LocalTool[] = []): LocalTool[] {
  const at = (p: unknown) => {
    const path = String(p);
    return isAbsolute(path) ? path : join(dir, path);
  };
  const inside = (path: string) => !relative(dir, path).startsWith("..");
  return [
    {
      name: "ls_tree",
      description: "Show the files of the project.",
      parameters: { type: "object", properties: {} },
      run: () => {
        const out: string[] = [];
        const walk = (d: string) => {
          for (const name of readdirSync(d).sort()) {
            const p = join(d, name);
            if (statSync(p).isDirectory()) walk(p);
            else out.push(relative(dir, p));
          }
        };
        walk(dir);
        return { output: out.join("\n") };
      },
    },
    {
      name: "cat_file",
      description: "Print a file with line numbers.",
      parameters: { type: "object", properties: { file_path: str }, required: ["file_path"] },
      run: (args) => {
        const path = at(args.file_path);
        if (!inside(path)) return { output: `Error: ${path} is outside the project`, isError: true };
        try {
          const lines = readFileSync(path, "utf8").split("\n");
          return { output: lines.map((l, i) => `${String(i + 1).padStart(6)}\t${l}`).join("\n") };
        } catch {
          return { output: `Error: no such file ${args.file_path}`, isError: true };
        }
      },
    },
    {
      name: "str_replace",
      description: "Replace old_str by new_str in a file.",
      parameters: {
        type: "object",
        properties: { file_path: str, old_str: str, new_str: str },
        required: ["file_path", "old_str", "new_str"],
      },
      run: (args) => {
        const path = at(args.file_path);
        const text = readFileSync(path, "utf8");
        if (!text.includes(String(args.old_str)))
          return { output: `Error: old_str not found in ${args.file_path}`, isError: true };
        writeFileSync(path, text.replace(String(args.old_str), String(args.new_str)));
        return { output: `Edited ${args.file_path}` };
      },
    },
    {
      name: "bash",
      description: "Run a shell command in the project.",
      parameters: { type: "object", properties: { cmd: str }, required: ["cmd"] },
      run: (args) => {
        const r = spawnSync("bash", ["-c", `${args.cmd} 2>&1`], { cwd: dir, encoding: "utf8" });
        return { output: `exit code ${r.status}\n${r.stdout}`, isError: r.status !== 0 };
      },
    },
    ...extra,
  ];
}

const reported: { args?: Record<string, unknown> } = {};
const submitReport: LocalTool = {
  name: "submit_report",
  description: "Hand in your result when you are done.",
  parameters: {
    type: "object",
    properties: {
      outcome: { type: "string", enum: ["success", "failure"] },
      report: str,
      changed_files: { type: "array", items: str },
      tests_green: { type: "boolean" },
    },
    required: ["outcome", "report"],
  },
  run: (args) => {
    reported.args = args;
    return { output: "Thanks." };
  },
};
const makePlan: LocalTool = {
  name: "make_plan",
  description: "Lay out the steps before anyone changes code.",
  parameters: {
    type: "object",
    properties: {
      steps: {
        type: "array",
        items: {
          type: "object",
          properties: { what: str, who: { type: "string", enum: ["coder", "checker"] } },
          required: ["what", "who"],
        },
      },
    },
    required: ["steps"],
  },
  run: () => ({ output: "Plan noted." }),
};

async function withServer<T>(persona: Persona, body: (baseUrl: string) => Promise<T>, recipe = RECIPE) {
  const server = await startPersonaServer({ recipe, persona });
  try {
    return { result: await body(server.baseUrl), requests: server.requests };
  } finally {
    await server.close();
  }
}

const SYSTEM = "You are a coding assistant. Use the tools to fix the user's problem.";
const USER = "add(1, 2) returns -1. Fix it; the tests run with `sh test.sh`.";

describe("the wires", () => {
  const tools = [
    {
      type: "function",
      function: { name: "view", description: "", parameters: { type: "object", properties: { path: str } } },
    },
  ];
  test("OpenAI streaming: role chunk, tool call with arguments in fragments, finish, usage, [DONE]", async () => {
    await withServer({}, async (baseUrl) => {
      const reply = await callModel("openai", baseUrl, {
        model: "m",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "Look at src/add.js" }],
        tools,
      });
      assert.equal(reply.calls.length, 1);
      assert.equal(reply.calls[0]!.name, "view");
      assert.deepEqual(reply.calls[0]!.args, { path: "src/add.js" });
      assert.ok(reply.calls[0]!.fragments >= 2, "arguments arrive in several chunks");
      assert.equal(reply.finishReason, "tool_calls");
      assert.ok(reply.usage && reply.usage.input > 0 && reply.usage.output > 0);
      assert.equal(reply.events.at(-1), "[DONE]");
    });
  });
  test("OpenAI without streaming: one JSON body with tool_calls and usage", async () => {
    await withServer({}, async (baseUrl) => {
      const reply = await callModel("openai", baseUrl, {
        model: "m",
        messages: [{ role: "user", content: "Look at it" }],
        tools,
      });
      assert.deepEqual(
        reply.calls.map((c) => [c.name, c.args]),
        [["view", { path: "src/add.js" }]],
      );
      assert.equal(reply.finishReason, "tool_calls");
      assert.ok(reply.usage!.input > 0);
    });
  });
  const anthropicTools = [
    { name: "view", description: "", input_schema: { type: "object", properties: { path: str } } },
  ];
  test("Anthropic streaming: message_start … tool_use block with input_json_delta … message_stop", async () => {
    await withServer({}, async (baseUrl) => {
      const reply = await callModel("anthropic", baseUrl, {
        model: "m",
        max_tokens: 100,
        stream: true,
        system: SYSTEM,
        messages: [{ role: "user", content: "Look at it" }],
        tools: anthropicTools,
      });
      assert.equal(reply.events[0], "message_start");
      assert.equal(reply.events.at(-1), "message_stop");
      assert.ok(reply.events.includes("content_block_start") && reply.events.includes("message_delta"));
      assert.deepEqual(reply.calls[0]!.args, { path: "src/add.js" });
      assert.ok(reply.calls[0]!.fragments >= 2);
      assert.equal(reply.finishReason, "tool_use");
      assert.ok(reply.usage!.output > 0);
    });
  });
  test("Anthropic without streaming, and a text answer when no tool fits", async () => {
    await withServer({}, async (baseUrl) => {
      const reply = await callModel("anthropic", baseUrl, {
        model: "m",
        max_tokens: 100,
        messages: [{ role: "user", content: "What is wrong?" }],
      });
      assert.equal(reply.calls.length, 0);
      assert.equal(reply.finishReason, "end_turn");
      assert.match(reply.text, /a - b.*a \+ b/);
    });
  });
  test("unknown routes and bodies get vendor-shaped errors", async () => {
    await withServer({}, async (baseUrl) => {
      const notFound = await fetch(`${baseUrl}/completions`, { method: "POST", body: "{}" });
      assert.equal(notFound.status, 404);
      const bad = await fetch(`${baseUrl}/messages`, { method: "POST", body: "not json" });
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).type, "error");
    });
  });
});

for (const api of ["openai", "anthropic"] as const) {
  test(`${api}: with unusual tool names it lists, reads, edits, runs the test and reports; the bug is really fixed`, async () => {
    const dir = project();
    const { result, requests } = await withServer({}, (baseUrl) =>
      drive({
        api,
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir, [submitReport]),
        stopAfter: ["submit_report"],
      }),
    );
    assert.deepEqual(
      result.calls.map((c) => c.name),
      ["ls_tree", "cat_file", "str_replace", "bash", "submit_report"],
    );
    assert.equal(result.calls[3]!.args.cmd, "sh test.sh");
    assert.match(result.calls[3]!.output, /exit code 0/);
    assert.match(readFileSync(join(dir, "src/add.js"), "utf8"), /return a \+ b;/);
    const report = result.calls[4]!.args;
    assert.equal(report.outcome, "success");
    assert.equal(report.tests_green, true);
    assert.deepEqual(report.changed_files, ["src/add.js"]);
    assert.deepEqual(
      requests[0]!.tools.map((t) => [t.name, t.kind]),
      [
        ["ls_tree", "list"],
        ["cat_file", "read"],
        ["str_replace", "edit"],
        ["bash", "command"],
        ["submit_report", "report"],
      ],
    );
  });
}

test("finds the test command in package.json when the prompt names none", async () => {
  const dir = project();
  const { result } = await withServer({}, (baseUrl) =>
    drive({
      api: "openai",
      baseUrl,
      system: SYSTEM,
      user: "add is broken.",
      tools: oddTools(dir, [submitReport]),
      stopAfter: ["submit_report"],
    }),
  );
  const names = result.calls.map((c) => `${c.name} ${String(c.args.file_path ?? c.args.cmd ?? "")}`.trim());
  assert.deepEqual(
    names,
    [
      "ls_tree",
      "cat_file src/add.js",
      "cat_file package.json",
      "str_replace src/add.js",
      "bash npm test",
    ].concat("submit_report"),
  );
  assert.match(result.calls[4]!.output, /1 passed/);
});

test("a tester that finds the fix already in runs the tests and reports their failure honestly", async () => {
  const dir = project();
  writeFileSync(join(dir, "test.sh"), 'echo "2 failed"; exit 1\n');
  writeFileSync(join(dir, "src/add.js"), "export function add(a, b) {\n  return a + b;\n}\n");
  const { result } = await withServer({}, (baseUrl) =>
    drive({
      api: "anthropic",
      baseUrl,
      system: SYSTEM,
      user: USER,
      tools: oddTools(dir, [submitReport]),
      stopAfter: ["submit_report"],
    }),
  );
  assert.ok(!result.calls.some((c) => c.name === "str_replace"), "no edit when the fix is in");
  const report = result.calls.at(-1)!.args;
  assert.equal(report.outcome, "failure");
  assert.equal(report.tests_green, false);
  assert.match(String(report.report), /2 failed/);
});

describe("personas", () => {
  test("no persona: a plan tool is called with steps shaped by its schema", async () => {
    const dir = project();
    const { result } = await withServer({}, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: [...oddTools(dir), makePlan],
        stopAfter: ["make_plan"],
      }),
    );
    const plan = result.calls.at(-1)!;
    assert.equal(plan.name, "make_plan");
    const steps = plan.args.steps as { what: string; who: string }[];
    assert.equal(steps.length, 2);
    assert.match(steps[0]!.what, /a - b/);
    assert.deepEqual(
      steps.map((s) => s.who),
      ["coder", "checker"], // "Run the tests … to check the fix" reads as the checker's
    );
  });

  test("planInText: the request that offered the plan tool got a numbered plan in text", async () => {
    const dir = project();
    const { result, requests } = await withServer({ planInText: true }, (baseUrl) =>
      drive({ api: "openai", baseUrl, system: SYSTEM, user: USER, tools: [...oddTools(dir), makePlan] }),
    );
    assert.ok(!result.calls.some((c) => c.name === "make_plan"));
    assert.match(result.finalText ?? "", /^1\. .*a - b/m);
    const last = requests.at(-1)!;
    assert.ok(last.tools.some((t) => t.kind === "plan"));
    assert.equal(last.action.type, "text");
  });

  test("forgetFinish: works, never calls the report tool, ends with plain text", async () => {
    const dir = project();
    const { result } = await withServer({ forgetFinish: true }, (baseUrl) =>
      drive({ api: "anthropic", baseUrl, system: SYSTEM, user: USER, tools: oddTools(dir, [submitReport]) }),
    );
    assert.ok(!result.calls.some((c) => c.name === "submit_report"));
    assert.ok(result.calls.some((c) => c.name === "str_replace"));
    assert.match(result.finalText ?? "", /^Done\. I fixed src\/add\.js/);
  });

  /** Drives the persona over the OpenAI wire with odd tool names until it calls the report tool. */
  const untilReport = (persona: Persona, dir: string) =>
    withServer(persona, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir, [submitReport]),
        stopAfter: ["submit_report"],
      }),
    );

  test("wrongFix + falseSuccess: the decoy edit leaves the test failing, and the report says it passes", async () => {
    const dir = project();
    const { result } = await untilReport({ wrongFix: true, falseSuccess: true }, dir);
    assert.match(readFileSync(join(dir, "src/add.js"), "utf8"), /return b - a;/);
    const run = result.calls.find((c) => c.name === "bash")!;
    assert.match(run.output, /exit code 1/);
    const report = result.calls.at(-1)!.args;
    assert.equal(report.outcome, "success");
    assert.equal(report.tests_green, true);
    assert.match(String(report.report), /All tests pass/);
  });

  test("skipTests + falseSuccess: claims success without running anything", async () => {
    const dir = project();
    const { result } = await untilReport({ skipTests: true, falseSuccess: true }, dir);
    assert.ok(!result.calls.some((c) => c.name === "bash"));
    assert.equal(result.calls.at(-1)!.args.tests_green, true);
  });

  test("absolutePaths: from a path in the prompt, or else from pwd", async () => {
    const dir = project();
    const fromPrompt = await withServer({ absolutePaths: true }, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: `${SYSTEM} The repository is checked out at ${dir}.`,
        user: USER,
        tools: oddTools(dir, [submitReport]),
        stopAfter: ["submit_report"],
      }),
    );
    const read = fromPrompt.result.calls.find((c) => c.name === "cat_file")!;
    assert.equal(read.args.file_path, join(dir, "src/add.js"));
    assert.equal(
      fromPrompt.result.calls.find((c) => c.name === "str_replace")!.args.file_path,
      join(dir, "src/add.js"),
    );

    const dir2 = project();
    const fromPwd = await withServer({ absolutePaths: true }, (baseUrl) =>
      drive({
        api: "anthropic",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir2, [submitReport]),
        stopAfter: ["submit_report"],
      }),
    );
    assert.equal(fromPwd.result.calls[0]!.args.cmd, "pwd");
    const cwd = fromPwd.result.calls[0]!.output.split("\n")[1]!;
    assert.equal(
      fromPwd.result.calls.find((c) => c.name === "cat_file")!.args.file_path,
      `${cwd}/src/add.js`,
    );
    assert.match(readFileSync(join(dir2, "src/add.js"), "utf8"), /a \+ b/);
  });

  test("absolutePaths: told that paths are relative, it follows the message", async () => {
    const dir = project();
    const strict = oddTools(dir).map((tool) =>
      tool.name === "cat_file"
        ? {
            ...tool,
            run: (args: Record<string, unknown>) =>
              isAbsolute(String(args.file_path))
                ? {
                    output: `The path "${args.file_path}" is absolute. Paths are relative to the project root.`,
                  }
                : tool.run(args),
          }
        : tool,
    );
    const { result } = await withServer({ absolutePaths: true }, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: `${SYSTEM} The project's test command is \`sh test.sh\`; the workspace is at /srv/app.`,
        user: "Fix add.",
        tools: strict.filter((t) => t.name !== "bash"),
        maxTurns: 4,
      }),
    );
    const reads = result.calls.filter((c) => c.name === "cat_file").map((c) => c.args.file_path);
    assert.deepEqual(reads, ["/srv/app/src/add.js", "src/add.js"]);
  });

  test("sloppyWhitespace: the first edit's old text has other spacing; after the error it sends the exact text", async () => {
    const dir = project();
    const { result } = await withServer({ sloppyWhitespace: true }, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir, [submitReport]),
        stopAfter: ["submit_report"],
      }),
    );
    const edits = result.calls.filter((c) => c.name === "str_replace");
    assert.equal(edits.length, 2);
    assert.notEqual(edits[0]!.args.old_str, "a - b");
    assert.equal(String(edits[0]!.args.old_str).replace(/\s+/g, " "), "a - b");
    assert.ok(edits[0]!.isError);
    assert.equal(edits[1]!.args.old_str, "a - b");
    assert.match(readFileSync(join(dir, "src/add.js"), "utf8"), /a \+ b/);
  });

  test("repeat: each call is made n times in a row with identical arguments", async () => {
    const dir = project();
    const { result } = await withServer({ repeat: 3 }, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir, [submitReport]),
        maxTurns: 6,
      }),
    );
    assert.deepEqual(
      result.calls.map((c) => c.name),
      ["ls_tree", "ls_tree", "ls_tree", "cat_file", "cat_file", "cat_file"],
    );
    assert.equal(new Set(result.calls.slice(3).map((c) => JSON.stringify(c.args))).size, 1);
  });

  test("oneCallThenDone: one read, then a text answer", async () => {
    const dir = project();
    const { result } = await withServer({ oneCallThenDone: true }, (baseUrl) =>
      drive({ api: "anthropic", baseUrl, system: SYSTEM, user: USER, tools: oddTools(dir, [submitReport]) }),
    );
    assert.deepEqual(
      result.calls.map((c) => c.name),
      ["cat_file"],
    );
    assert.match(result.finalText ?? "", /a \+ b/);
  });

  test("textOnly: never calls a tool, whatever is offered", async () => {
    const dir = project();
    const { result, requests } = await withServer({ textOnly: true }, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: oddTools(dir, [submitReport, makePlan]),
      }),
    );
    assert.equal(result.calls.length, 0);
    assert.equal(requests.length, 1);
    assert.ok(result.finalText);
  });

  test("a classify tool gets the recipe's classification from its enum", async () => {
    const classify: LocalTool = {
      name: "triage_task",
      description: "Say what kind of task this is.",
      parameters: {
        type: "object",
        properties: { category: { type: "string", enum: ["question", "bugfix", "feature"] } },
        required: ["category"],
      },
      run: () => ({ output: "ok" }),
    };
    const { result } = await withServer({}, (baseUrl) =>
      drive({
        api: "openai",
        baseUrl,
        system: SYSTEM,
        user: USER,
        tools: [classify],
        stopAfter: ["triage_task"],
      }),
    );
    assert.deepEqual(result.calls[0]!.args, { category: "bugfix" });
  });

  test("parsePersona reads combinations and names the known personas on a typo", () => {
    assert.deepEqual(parsePersona("planInText, forgetFinish,repeat=2"), {
      planInText: true,
      forgetFinish: true,
      repeat: 2,
    });
    assert.throws(() => parsePersona("plnInText"), /unknown persona "plnInText"; known: planInText/);
  });
});

test("several agents on one server: each is answered from its own conversation and tools", async () => {
  const analyst = [
    {
      type: "function",
      function: { name: "open_file", parameters: { type: "object", properties: { path: str } } },
    },
    {
      type: "function",
      function: { name: "done", parameters: { type: "object", properties: { summary: str } } },
    },
  ];
  const worker = [
    {
      type: "function",
      function: { name: "glob", parameters: { type: "object", properties: { pattern: str } } },
    },
  ];
  await withServer({}, async (baseUrl) => {
    const a1 = await callModel("openai", baseUrl, {
      model: "m",
      messages: [{ role: "user", content: "Go." }],
      tools: analyst,
    });
    const w1 = await callModel("openai", baseUrl, {
      model: "m",
      messages: [{ role: "user", content: "Go." }],
      tools: worker,
    });
    const a2 = await callModel("openai", baseUrl, {
      model: "m",
      tools: analyst,
      messages: [
        { role: "user", content: "Go." },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "x",
              type: "function",
              function: { name: "open_file", arguments: JSON.stringify(a1.calls[0]!.args) },
            },
          ],
        },
        { role: "tool", tool_call_id: "x", content: "export function add(a, b) {\n  return a - b;\n}\n" },
      ],
    });
    assert.equal(a1.calls[0]!.name, "open_file");
    assert.equal(w1.calls[0]!.name, "glob");
    assert.equal(a2.calls[0]!.name, "done");
    assert.match(String(a2.calls[0]!.args.summary), /a - b.*should be.*a \+ b/);
  });
});

test("the CLI prints its URL and answers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "persona-cli-"));
  dirs.push(dir);
  const recipeFile = join(dir, "recipe.json");
  writeFileSync(recipeFile, JSON.stringify(RECIPE));
  const child = spawn(
    process.execPath,
    [
      join(HERE, "persona-server.ts"),
      "--port",
      "0",
      "--recipe",
      recipeFile,
      "--persona",
      "planInText,forgetFinish",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        const m = /listening (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`persona server exited ${code} before listening`)));
    });
    const reply = await callModel("openai", `${url}/v1`, {
      model: "m",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.match(reply.text, /a \+ b/);
  } finally {
    child.kill("SIGTERM");
  }
});

test("honest: the server's files import nothing of src/ and decide nothing by the program's own tool names", () => {
  const serverFiles = ["persona-server.ts", "persona.ts", "tool-shapes.ts", "conversation.ts"];
  const toolNames = new Set<string>();
  for (const folder of ["src/tools/builtin", "src/orchestrator"]) {
    for (const file of readdirSync(join(ROOT, folder)).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
    )) {
      for (const m of readFileSync(join(ROOT, folder, file), "utf8").matchAll(/\bname: "([a-z_]+)"/g))
        toolNames.add(m[1]!);
    }
  }
  assert.ok(toolNames.size >= 8, `found the program's tool names: ${[...toolNames].join(", ")}`);
  for (const file of serverFiles) {
    const source = readFileSync(join(HERE, file), "utf8");
    assert.doesNotMatch(
      source,
      /from\s+["'][^"']*\/src\/|import\(\s*["'][^"']*\/src\//,
      `${file} imports src/`,
    );
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
    for (const name of toolNames) {
      for (const line of code.split("\n").filter((l) => new RegExp(`\\b${name}\\b`).test(l))) {
        // A generic word (`finish`) may appear as one synonym among several; a name of ours, never.
        const synonyms = (line.match(/"[^"]*"/g) ?? []).length;
        assert.ok(
          !name.includes("_") && synonyms >= 4,
          `${file} uses the tool name "${name}" outside a list of synonyms: ${line.trim()}`,
        );
      }
    }
  }
});
