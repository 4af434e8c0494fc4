import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampleLog } from "../../../test/support/event-samples.ts";
import { describeEvent, type EntourageEvent, EventContext, type NewEvent } from "../../core/index.ts";
import { describeArgs, nextSteps, selfCommand, TerminalRenderer } from "./render.ts";
import { makeStyle } from "./style.ts";

const RUN = "run_abc";
const A = "agt_1";

/** Envelope fields as the store assigns them; `time` is given per event (default 1000 + seq). */
function log(events: (NewEvent & { time?: number })[]): EntourageEvent[] {
  return events.map(
    (e, seq) => ({ id: `evt_${seq}`, runId: RUN, seq, v: 1, time: 1_000 + seq, ...e }) as EntourageEvent,
  );
}

/** Renders events without colour and returns the terminal text. */
function render(events: EntourageEvent[], options?: { outputLines?: number }): string {
  let out = "";
  const renderer = new TerminalRenderer((s) => (out += s), makeStyle(false), options);
  for (const e of events) renderer.render(e);
  renderer.end();
  return out;
}

function created(over: { scripted?: boolean; isolated?: boolean; warning?: string } = {}): NewEvent {
  return {
    type: "run.created",
    data: {
      task: "Fix the failing tests in src/date.js",
      repo: "/home/u/dates",
      workspace: "/home/u/.entourage/runs/run_abc/workspace",
      mode: "single",
      model: { provider: "scripted", model: "demo-fix-date", scripted: over.scripted },
      sandbox: {
        backend: over.isolated ? "bwrap" : "subprocess",
        isolated: over.isolated ?? false,
        network: "off",
        warning: over.warning,
      },
      budget: { maxSteps: 10 },
      approval: "auto",
    },
  };
}

const delta = (text: string): NewEvent => ({ type: "agent.text.delta", agentId: A, data: { step: 1, text } });
const out = (text: string, callId = "c1"): NewEvent => ({
  type: "tool.output.delta",
  agentId: A,
  data: { callId, stream: "stdout", text },
});

describe("TerminalRenderer", () => {
  it("shows what the run loaded and, indented, what it could not", () => {
    const text = render(
      log([
        {
          type: "extension.loaded",
          data: {
            kind: "mcp",
            name: "notes",
            source: "mcpServers.notes",
            tools: ["notes__add"],
            note: "risk execute",
          },
        },
        {
          type: "extension.failed",
          data: {
            kind: "mcp",
            name: "x",
            source: "mcpServers.x",
            message: 'MCP server "x" failed.\nstderr line',
          },
        },
      ]),
    );
    assert.equal(text, '+ mcp notes: notes__add (risk execute)\n! MCP server "x" failed.\n  stderr line\n');
  });

  it("labels the scripted model and a sandbox without isolation in the header", () => {
    const text = render(log([created({ scripted: true, warning: "commands run as you" })]));
    const [header, warning, task, repo] = text.split("\n");
    assert.equal(
      header,
      "entourage · run run_abc · scripted/demo-fix-date (scripted demo model, not an LLM) · sandbox subprocess (NO ISOLATION)",
    );
    assert.equal(warning, "! commands run as you");
    assert.equal(task, "task Fix the failing tests in src/date.js");
    assert.match(repo ?? "", /^repo \/home\/u\/dates \(untouched until you apply/);
  });

  it("names the docker image and why it was chosen in the header", () => {
    const event = created({ isolated: true });
    const data = event.data as { sandbox: Record<string, unknown> };
    data.sandbox = {
      ...data.sandbox,
      backend: "docker",
      image: "entourage/sandbox:bookworm-python",
      imageReason: "the repository has pyproject.toml",
    };
    const lines = render(log([event])).split("\n");
    assert.match(lines[0]!, /sandbox docker$/);
    assert.equal(lines[1], "image entourage/sandbox:bookworm-python (the repository has pyproject.toml)");
    assert.doesNotMatch(render(log([created({ isolated: true })])), /^image /m);
  });

  it("does not claim a real model is scripted nor an isolating sandbox unsafe", () => {
    const text = render(log([created({ scripted: false, isolated: true })]));
    assert.doesNotMatch(text, /scripted demo model|NO ISOLATION/);
    assert.match(text, /sandbox bwrap\n/);
  });

  it("joins streamed text deltas on one indented line, then starts the next line cleanly", () => {
    const text = render(
      log([
        { type: "agent.step.started", agentId: A, data: { step: 1 } },
        delta("Let me "),
        delta("look at "),
        delta("the tests."),
        {
          type: "tool.call.requested",
          agentId: A,
          data: {
            callId: "c1",
            name: "run_command",
            args: { command: "npm test" },
            risk: "execute",
            step: 1,
          },
        },
      ]),
    );
    assert.equal(text, "  step 1\n  Let me look at the tests.\n  → run_command npm test\n");
  });

  it("indents every line of multi-line streamed text", () => {
    const text = render(log([delta("first\nsec"), delta("ond")]));
    assert.equal(text, "  first\n  second\n");
  });

  it("shows at most 12 lines of a command's output, counts the rest, and the exit code", () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const text = render(
      log([
        {
          type: "tool.call.requested",
          agentId: A,
          data: {
            callId: "c1",
            name: "run_command",
            args: { command: "npm test" },
            risk: "execute",
            step: 1,
          },
        },
        // chunks that split lines mid-way, as a pipe delivers them
        out(`${lines.slice(0, 5).join("\n")}\nli`),
        out(`ne 6\n${lines.slice(6).join("\n")}`),
        {
          type: "tool.call.ended",
          agentId: A,
          data: {
            callId: "c1",
            name: "run_command",
            output: "…",
            isError: true,
            durationMs: 1_500,
            exitCode: 1,
          },
        },
      ]),
    );
    const shown = text.split("\n").filter((l) => l.startsWith("    │ line"));
    assert.deepEqual(
      shown,
      lines.slice(0, 12).map((l) => `    │ ${l}`),
    );
    assert.match(text, /\n {4}│ … 8 more lines \(entourage show run_abc --full\)\n/);
    assert.match(text, /\n {4}✗ exit 1 · 1\.5 s\n/);
  });

  it("shows short output in full with no 'more lines' note", () => {
    const text = render(
      log([
        out("ok 1\nok 2\n"),
        {
          type: "tool.call.ended",
          agentId: A,
          data: {
            callId: "c1",
            name: "run_command",
            output: "",
            isError: false,
            durationMs: 20,
            exitCode: 0,
          },
        },
      ]),
    );
    assert.equal(text, "    │ ok 1\n    │ ok 2\n    ✓ exit 0 · 20 ms\n");
  });

  it("keeps the output of two calls apart", () => {
    const text = render(log([out("from one\n", "c1"), out("from two\n", "c2")]), { outputLines: 1 });
    assert.equal(text, "    │ from one\n    │ from two\n");
  });

  it("shows a retry with the reason, the delay and the next attempt", () => {
    const text = render(
      log([
        {
          type: "llm.retry",
          agentId: A,
          data: { step: 2, attempt: 1, delayMs: 2_000, reason: "HTTP 429 rate limited", status: 429 },
        },
      ]),
    );
    assert.equal(text, "  ⟳ model call failed (HTTP 429 rate limited); retry in 2.0 s (attempt 2)\n");
  });

  it("ends with the outcome, how long it took, the summary and the token totals", () => {
    const text = render(
      log([
        { ...created({ scripted: true }), time: 10_000 },
        {
          type: "llm.response",
          agentId: A,
          data: {
            step: 1,
            usage: { inputTokens: 1_500, outputTokens: 200 },
            costUsd: 0.02,
            latencyMs: 10,
            finishReason: "stop",
          },
        },
        {
          type: "diff.ready",
          data: {
            baseRef: "a1",
            headRef: "b2",
            files: [{ path: "src/parse.ts", status: "modified" }],
            insertions: 3,
            deletions: 1,
          },
        },
        {
          type: "run.finished",
          data: { status: "succeeded", summary: "Fixed the parser.\nAll 12 tests pass." },
          time: 14_200,
        },
      ]),
    );
    const tail = text.split("\n").slice(-6);
    assert.deepEqual(tail, [
      "✔ succeeded in 4.2 s",
      "  Fixed the parser.",
      "  All 12 tests pass.",
      "  tokens 1.5k in · 200 out · $0.02",
      "  next: entourage diff run_abc  ·  entourage apply run_abc",
      "",
    ]);
  });

  it("tells a step's own tokens from the run's running total", () => {
    const step = (n: number, inputTokens: number, outputTokens: number): NewEvent[] => [
      {
        type: "llm.response",
        agentId: A,
        data: { step: n, usage: { inputTokens, outputTokens }, latencyMs: 5, finishReason: "tool-calls" },
      },
      {
        type: "agent.step.ended",
        agentId: A,
        data: {
          step: n,
          text: "",
          toolCalls: [],
          usage: { inputTokens, outputTokens },
          finishReason: "tool-calls",
        },
      },
    ];
    const text = render(log([...step(1, 34_800, 665), ...step(2, 1_200, 310)]));
    assert.equal(
      text,
      "  step 1 · 35k in · 665 out · cost unknown  (run so far: 35k in · 665 out · cost unknown)\n" +
        "  step 2 · 1.2k in · 310 out · cost unknown  (run so far: 36k in · 975 out · cost unknown)\n",
    );
  });

  it("names a step once: its start line only when the step prints something before it ends", () => {
    const usage = { inputTokens: 10, outputTokens: 2 };
    const ended = (step: number): NewEvent[] => [
      { type: "llm.response", agentId: A, data: { step, usage, latencyMs: 1, finishReason: "stop" } },
      {
        type: "agent.step.ended",
        agentId: A,
        data: { step, text: "", toolCalls: [], usage, finishReason: "stop" },
      },
    ];
    const text = render(
      log([
        { type: "agent.step.started", agentId: A, data: { step: 1 } },
        ...ended(1),
        { type: "agent.step.started", agentId: A, data: { step: 2 } },
        delta("Looking."),
        ...ended(2),
        { type: "agent.step.started", agentId: A, data: { step: 3 } },
      ]),
    );
    assert.equal(
      text,
      "  step 1 · 10 in · 2 out · cost unknown  (run so far: 10 in · 2 out · cost unknown)\n" +
        "  step 2\n  Looking.\n" +
        "  step 2 · 10 in · 2 out · cost unknown  (run so far: 20 in · 4 out · cost unknown)\n" +
        "  step 3\n",
    );
  });

  describe("one outcome word and the hint that fits it", () => {
    const report = (status: "done" | "blocked" | "partial" | "failed"): NewEvent => ({
      type: "agent.finished",
      agentId: A,
      data: {
        name: "general",
        reason: "finish",
        report: { status, summary: "Cannot proceed: the spec is missing.", filesChanged: [] },
      },
    });
    const diff = (files: number): NewEvent => ({
      type: "diff.ready",
      data: {
        baseRef: "a1",
        headRef: "b2",
        files: Array.from({ length: files }, (_, i) => ({ path: `f${i}.ts`, status: "modified" as const })),
        insertions: files,
        deletions: 0,
      },
    });
    const finished = (status: "succeeded" | "failed" | "cancelled", error?: boolean): NewEvent => ({
      type: "run.finished",
      data: {
        status,
        summary: "The summary.",
        error: error ? { code: "internal_error", message: "boom" } : undefined,
      },
    });
    const tail = (events: NewEvent[]) => render(log(events)).trimEnd().split("\n").slice(-4);

    it("a blocked run that changed nothing reads blocked twice, never failed, with no diff/apply hint", () => {
      const text = render(log([report("blocked"), diff(0), finished("failed")]));
      assert.match(text, /general finished: blocked \(finish\)/);
      assert.match(text, /^✘ blocked\n/m);
      assert.doesNotMatch(text, /failed|entourage diff|entourage apply/);
      assert.match(
        text,
        /next: entourage show run_abc \(why\) {2}· {2}entourage fork run_abc "<guidance>" \(try again\)$/m,
      );
    });

    it("a partial run that changed files offers the change so far, not apply", () => {
      const lines = tail([report("partial"), diff(2), finished("failed")]);
      assert.equal(lines[0], "✘ partial");
      assert.match(
        lines.at(-1)!,
        /entourage fork run_abc .* {2}· {2}entourage diff run_abc \(the change so far\)$/,
      );
      assert.doesNotMatch(lines.join("\n"), /apply/);
    });

    it("a run the tests failed, or an error ended, reads failed even after a blocked report", () => {
      assert.equal(tail([report("done"), diff(1), finished("failed")])[0], "✘ failed");
      assert.equal(tail([report("blocked"), finished("failed", true)])[0], "✘ failed");
    });

    it("a run that succeeded without changing anything says there is nothing to apply", () => {
      const lines = tail([report("done"), diff(0), finished("succeeded")]);
      assert.equal(lines[0], "✔ succeeded");
      assert.equal(
        lines.at(-1),
        "  nothing changed, nothing to apply  ·  the whole log: entourage show run_abc",
      );
    });

    it("a cancelled run reads cancelled and points to show and fork", () => {
      const lines = tail([report("done"), finished("cancelled")]);
      assert.equal(lines[0], "✘ cancelled");
      assert.match(lines.at(-1)!, /^ {2}next: entourage show run_abc \(why\) .*entourage fork run_abc/);
    });
  });

  it("shows a failed run as failed, with its summary, and the cost as unknown when a step had no price", () => {
    const text = render(
      log([
        {
          type: "llm.response",
          agentId: A,
          data: { step: 1, usage: { inputTokens: 10, outputTokens: 5 }, latencyMs: 1, finishReason: "stop" },
        },
        {
          type: "run.finished",
          data: { status: "failed", summary: "Stopped after 10 steps: the step budget (10) is used up." },
        },
      ]),
    );
    assert.match(text, /^✘ failed\n {2}Stopped after 10 steps: the step budget \(10\) is used up\.\n/);
    assert.match(text, /tokens 10 in · 5 out · cost unknown/);
    assert.doesNotMatch(text, /succeeded/);
  });

  it("does not print a denied call's output twice but does print an invalid call's error", () => {
    const text = render(
      log([
        {
          type: "approval.resolved",
          agentId: A,
          data: { approvalId: "a1", decision: "deny", by: "cli", reason: "not on my machine" },
        },
        {
          type: "tool.call.ended",
          agentId: A,
          data: {
            callId: "c1",
            name: "run_command",
            output: "The user denied this run_command call.",
            isError: true,
            durationMs: 0,
            skipped: "denied",
          },
        },
        {
          type: "tool.call.ended",
          agentId: A,
          data: {
            callId: "c2",
            name: "nope",
            output: 'Unknown tool "nope". Available tools: read_file.',
            isError: true,
            durationMs: 0,
            skipped: "unknown_tool",
          },
        },
      ]),
    );
    assert.equal(
      text,
      "    ✗ denied by cli: not on my machine\n" +
        "    ✗ denied · 0 ms\n" +
        "    ✗ unknown_tool · 0 ms\n" +
        '      Unknown tool "nope". Available tools: read_file.\n',
    );
  });
});

describe("TerminalRenderer: the words it shares with the dashboard", () => {
  const text = render(sampleLog());
  const lines = text.split("\n");

  it("prints every event a person needs, in the shared words, and no bookkeeping", () => {
    const context = new EventContext();
    for (const e of sampleLog()) {
      context.observe(e);
      const d = describeEvent(e, context);
      if (d.minor || e.type === "run.created") continue;
      assert.ok(
        lines.some((l) => l.endsWith(`${d.subject ? `${d.subject} ` : ""}${d.title}`)),
        `${e.type}: "${d.title}" not printed`,
      );
    }
    assert.doesNotMatch(
      text,
      /model call scripted|model answered|run running|started by pid|run_command started/,
    );
  });

  it("shows what only the dashboard showed: a saved rule, a revised plan's steps, pause, resume, apply", () => {
    assert.ok(lines.includes('    ✓ approved by cli · rule saved: run_command "npm test" → allow'));
    const revised = lines.indexOf("  ✎ plan revised by cli: test the day too");
    assert.equal(lines[revised + 1], "    1. [implementer] Pad month and day");
    assert.ok(lines.includes("⏸ paused by api: lunch"));
    assert.ok(lines.includes("▶ resumed by api"));
    assert.ok(lines.includes("  ✓ applied to /home/u/dates: 1 file"));
    assert.ok(lines.includes("  ✘ setup exited 1 · 300 ms"));
  });

  it("labels each line of a parallel agent's plan, not only the first", () => {
    const at = lines.findIndex((l) => l.endsWith("plan proposed"));
    assert.deepEqual(lines.slice(at, at + 3), [
      "[implementer 1]   plan proposed",
      "[implementer 1]     1. [implementer] Pad the month",
      "[implementer 1]     2. [tester] Run the tests",
    ]);
  });

  it("cuts a long list of left-out paths at 10 and says where the rest are", () => {
    const event = created() as NewEvent & { data: Record<string, unknown> };
    event.data.leftOut = Array.from({ length: 14 }, (_, i) => ({
      path: `vendor/r${i}`,
      reason: "nested git repository",
    }));
    event.data.leftOutCount = 250;
    const shown = render(log([event])).split("\n");
    const at = shown.indexOf("! left out of the workspace: 250 path(s)");
    assert.equal(shown[at + 1], "  vendor/r0: nested git repository");
    assert.equal(shown[at + 10], "  vendor/r9: nested git repository");
    assert.equal(shown[at + 11], "  … and 240 more (entourage show --json lists the first 14)");
  });
});

describe("run header: what the sandbox mounts", () => {
  it("prints one line with the dependency folders and the PATH commands get", () => {
    const event = created({ isolated: true }) as NewEvent & { data: { sandbox: Record<string, unknown> } };
    event.data.sandbox.dependencies = ["node_modules", "packages/a/node_modules"];
    event.data.sandbox.path = "/root/.cargo/bin:/usr/bin:/bin";
    const text = render(log([event]));
    assert.match(
      text,
      /\ndeps: node_modules, packages\/a\/node_modules \(read-only\) · PATH: \/root\/\.cargo\/bin:\/usr\/bin:\/bin\n/,
    );
  });

  it("says linked on subprocess, and prints nothing for runs logged before mounts existed", () => {
    const linked = created() as NewEvent & { data: { sandbox: Record<string, unknown> } };
    linked.data.sandbox.dependencies = ["node_modules"];
    assert.match(render(log([linked])), /deps: node_modules \(linked\)\n/);
    assert.doesNotMatch(render(log([created({ isolated: true })])), /deps:|PATH:/);
  });
});

describe("describeArgs", () => {
  it("shows the argument a person cares about, on one line, cut at 120 characters", () => {
    assert.equal(describeArgs("run_command", { command: "npm\n  test" }), "npm test");
    assert.equal(describeArgs("read_file", { path: "src/a.ts", offset: 200 }), "src/a.ts @200");
    const long = describeArgs("run_command", { command: "x".repeat(200) });
    assert.equal(long.length, 118);
    assert.ok(long.endsWith("…"));
  });
});

describe("the command the hints tell the person to type", () => {
  it("is `npx entourage` through npm exec and `entourage` otherwise (a global install, npm test)", () => {
    assert.equal(selfCommand({ npm_command: "exec" }), "npx entourage");
    assert.equal(selfCommand({}), "entourage");
    assert.equal(selfCommand({ npm_command: "test" }), "entourage");
    assert.equal(
      nextSteps("run_abc", "succeeded", 1, selfCommand({ npm_command: "exec" })),
      "next: npx entourage diff run_abc  ·  npx entourage apply run_abc",
    );
    assert.equal(
      nextSteps("run_abc", "failed", 0, "entourage"),
      'next: entourage show run_abc (why)  ·  entourage fork run_abc "<guidance>" (try again)',
    );
  });
});
