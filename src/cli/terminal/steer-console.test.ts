import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { SteerConsole, type Steering } from "./steer-console.ts";
import { makeStyle } from "./style.ts";

function setup(options: { terminal?: boolean; columns?: number } = {}) {
  const input = new PassThrough();
  const output = Object.assign(new PassThrough(), { columns: options.columns });
  let printed = "";
  output.on("data", (d) => (printed += d));
  const acts: string[] = [];
  const steering: Steering = {
    intervene: async (message, interrupt) => {
      acts.push(`${interrupt ? "interrupt" : "message"}:${message}`);
    },
    pause: async () => {
      acts.push("pause");
    },
    resume: async () => {
      acts.push("resume");
    },
    cancel: async () => {
      acts.push("cancel");
    },
  };
  const console = new SteerConsole({
    input,
    output,
    style: makeStyle(false),
    steering,
    terminal: options.terminal,
  });
  const type = async (line: string) => {
    input.write(`${line}\n`);
    await new Promise((r) => setImmediate(r));
  };
  /** Keys typed without Enter (terminal mode). */
  const keys = async (text: string) => {
    input.write(text);
    await new Promise((r) => setImmediate(r));
  };
  return { console, type, keys, acts, printed: () => printed };
}

const request = (approvalId: string, command = "npm test") => ({
  approvalId,
  tool: "run_command",
  args: { command },
  risk: "execute" as const,
  reason: "approval mode ask-risky: execute calls are asked",
});

describe("SteerConsole: one line reader for steering and approvals", () => {
  it("sends lines as messages, !lines as interrupts, and /pause /resume /cancel as acts", async () => {
    const t = setup();
    await t.type("Use the UTC helpers");
    await t.type("!stop, wrong file");
    await t.type("/pause");
    await t.type("/resume");
    await t.type("/cancel");
    await t.type("   ");
    await t.type("/frobnicate");
    assert.deepEqual(t.acts, [
      "message:Use the UTC helpers",
      "interrupt:stop, wrong file",
      "pause",
      "resume",
      "cancel",
    ]);
    assert.match(t.printed(), /unknown command \/frobnicate/);
    t.console.close();
  });

  it("answers an open approval with the next lines: y, n + reason, a + confirmation", async () => {
    const t = setup();
    const signal = new AbortController().signal;
    const yes = t.console.ask(request("a1"), signal);
    assert.match(t.printed(), /\? allow run_command npm test \[execute\]\s+\[y\]es \/ \[n\]o \/ \[a\]lways/);
    await t.type("y");
    assert.deepEqual(await yes, { decision: "approve", by: "cli" });

    const no = t.console.ask(request("a2"), signal);
    await t.type("n");
    await t.type("use npm run clean");
    assert.deepEqual(await no, { decision: "deny", by: "cli", reason: "use npm run clean" });

    const always = t.console.ask(request("a3"), signal);
    await t.type("maybe"); // not an answer: asked again
    await t.type("a");
    assert.match(t.printed(), /save the rule run_command "npm test" → allow/);
    await t.type("y");
    assert.deepEqual(await always, {
      decision: "approve",
      by: "cli",
      rule: { tool: "run_command", match: "npm test", action: "allow" },
    });
    // No line was taken as a message while a question was open.
    assert.deepEqual(t.acts, []);
    t.console.close();
  });

  it("offers no [a]lways for the plan checkpoint: `a` asks again and saves nothing", async () => {
    const t = setup();
    const plan = t.console.ask(
      {
        approvalId: "p1",
        tool: "plan",
        args: { facts: [], steps: [] },
        risk: "write",
        reason: "plan checkpoint",
      },
      new AbortController().signal,
    );
    assert.match(t.printed(), /\? allow the plan above \[write\]\s+\[y\]es \/ \[n\]o: $/);
    await t.type("a");
    assert.doesNotMatch(t.printed(), /save the rule/);
    await t.type("y");
    assert.deepEqual(await plan, { decision: "approve", by: "cli" });
    t.console.close();
  });

  it("queues questions in order and drops one answered elsewhere", async () => {
    const t = setup();
    const first = new AbortController();
    const a = t.console.ask(request("a1", "make build"), first.signal);
    const b = t.console.ask(request("a2", "make test"), new AbortController().signal);
    first.abort();
    await assert.rejects(a, /answered elsewhere/);
    assert.match(t.printed(), /answered elsewhere/);
    assert.match(t.printed(), /allow run_command make test/);
    await t.type("y");
    assert.deepEqual(await b, { decision: "approve", by: "cli" });
    await t.type("back to messages");
    assert.deepEqual(t.acts, ["message:back to messages"]);
    t.console.close();
  });

  it("draws an open question again below output printed while it waits, and not once it is answered", async () => {
    const t = setup();
    const prompt = "? allow run_command npm test [execute]  [y]es / [n]o / [a]lways: ";
    const q = t.console.ask(request("a1"), new AbortController().signal);
    t.console.write("  ✉ message from dashboard: Mind the tests\n");
    t.console.write("  streamed text without its line end");
    assert.ok(
      t
        .printed()
        .endsWith(
          `\n  ✉ message from dashboard: Mind the tests\n${prompt}\n  streamed text without its line end\n${prompt}`,
        ),
      t.printed(),
    );
    await t.type("y");
    assert.deepEqual(await q, { decision: "approve", by: "cli" });
    const before = t.printed();
    t.console.write("  → run_command npm test\n");
    assert.equal(t.printed().slice(before.length), "  → run_command npm test\n");
    t.console.close();
  });

  it("on a terminal, takes down a wrapped prompt and what was typed, prints, then redraws both", async () => {
    const t = setup({ terminal: true, columns: 40 });
    const prompt = "? allow run_command npm test [execute]  [y]es / [n]o / [a]lways: ";
    const q = t.console.ask(request("a1"), new AbortController().signal);
    await t.keys("ye");
    const before = t.printed();
    t.console.write("  ✉ message from dashboard: hi\n");
    const redraw = t.printed().slice(before.length);
    // Up the prompt's rows (68 characters on 40 columns: the cursor is on its 2nd row), column 0, clear below.
    assert.ok(
      redraw.startsWith("\x1b[1A\x1b[1G\x1b[0J  ✉ message from dashboard: hi\n\n"),
      JSON.stringify(redraw),
    );
    assert.ok(redraw.includes(`${prompt}ye`), JSON.stringify(redraw));
    await t.type("s");
    assert.deepEqual(await q, { decision: "approve", by: "cli" });
    t.console.close();
  });

  it("rejects open questions when closed", async () => {
    const t = setup();
    const q = t.console.ask(request("a1"), new AbortController().signal);
    t.console.close();
    await assert.rejects(q, /closed/);
  });
});
