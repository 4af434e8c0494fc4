import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { z } from "zod";
import { createWorkspaceFixture, type WorkspaceFixture } from "../../../test/support/workspace.ts";
import { type AgentDefinition, generalAgent } from "../../agents/index.ts";
import {
  AbortedError,
  type ApprovalMode,
  type EntourageEvent,
  type EventOf,
  type EventType,
  type RunState,
  sequentialIds,
  UserError,
} from "../../core/index.ts";
import {
  createScriptedModel,
  type Model,
  type ModelMessage,
  type ModelPart,
  type ModelRequest,
  type ScriptedTurn,
  type ScriptStep,
} from "../../llm/index.ts";
import { createBackend } from "../../sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox } from "../../sandbox/index.ts";
import { createMemoryEventStore } from "../../store/backends/memory.ts";
import type { EventStore } from "../../store/index.ts";
import { builtinTools, finishTool } from "../../tools/builtin/index.ts";
import { defineTool, type ToolDefinition } from "../../tools/index.ts";
import type { ApprovalDecision, ApprovalRequest, Approver } from "../control/approval.ts";
import { RunEmitter } from "../emitter.ts";
import { createRun, driveRun, type RunContext } from "../run-engine.ts";
import { runAgent } from "./agent-loop.ts";

const RUN = "run_1";

interface Harness {
  fx: WorkspaceFixture;
  store: EventStore;
  sandbox: Sandbox;
  ctx: RunContext;
  /** What the model was sent at each step, copied when it was sent. */
  requests: ModelMessage[][];
  approvals: ApprovalRequest[];
  drive(ctx?: Partial<RunContext>): Promise<RunState>;
  events(): Promise<EntourageEvent[]>;
  ofType<T extends EventType>(type: T): Promise<EventOf<T>[]>;
  file(rel: string): string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A run over real parts: the in-memory store, a real git repo and workspace, the subprocess sandbox and
 * the scripted model (each step's request recorded as it was sent).
 */
async function harness(
  options: {
    turns?: ScriptStep[];
    model?: Model;
    approval?: { mode: ApprovalMode; decide?: (r: ApprovalRequest) => ApprovalDecision };
    budget?: { maxSteps: number; maxTokens?: number };
    signal?: AbortSignal;
  } = {},
): Promise<Harness> {
  const fx = await createWorkspaceFixture({ files: { "README.md": "# demo\n" } });
  cleanups.push(fx.cleanup);
  const sandbox = await createBackend("subprocess").create({
    workspace: fx.workspace.dir,
    network: "off",
    limits: { ...DEFAULT_LIMITS, timeoutMs: 20_000 },
  });
  cleanups.push(() => sandbox.destroy());
  const store = createMemoryEventStore({ ids: sequentialIds() });
  const requests: ModelMessage[][] = [];
  const record =
    (step: ScriptStep): ScriptStep =>
    (request, i) => {
      requests.push(structuredClone(request.messages));
      return typeof step === "function" ? step(request, i) : step;
    };
  const model = options.model ?? createScriptedModel({ turns: (options.turns ?? []).map(record) });
  const approvals: ApprovalRequest[] = [];
  const approver: Approver = async (request) => {
    approvals.push(request);
    return options.approval?.decide?.(request) ?? { decision: "approve", by: "test" };
  };
  const mode = options.approval?.mode ?? "auto";
  await createRun(store, RUN, {
    task: "Make the change",
    repo: fx.repo,
    workspace: fx.workspace.dir,
    mode: "single",
    model: { provider: model.provider, model: model.id, scripted: model.scripted },
    sandbox: { backend: "subprocess", isolated: false, network: "off" },
    budget: options.budget ?? { maxSteps: 10 },
    approval: mode,
  });
  let tick = 0;
  const ctx: RunContext = {
    store,
    model,
    sandbox,
    workspace: fx.workspace,
    tools: builtinTools,
    approval: { mode, approver },
    ids: sequentialIds(),
    clock: () => 1_700_000_000_000 + tick++,
    signal: options.signal ?? new AbortController().signal,
  };
  const events = () => store.read(RUN);
  return {
    fx,
    store,
    sandbox,
    ctx,
    requests,
    approvals,
    drive: (over = {}) => driveRun({ ...ctx, ...over }, RUN),
    events,
    ofType: async <T extends EventType>(type: T) =>
      (await events()).filter((e): e is EventOf<T> => e.type === type),
    file: (rel) => path.join(fx.workspace.dir, rel),
  };
}

/** The results of the last tool turn in a request. */
function toolResults(messages: ModelMessage[] | undefined) {
  const last = messages?.findLast((m) => m.role === "tool");
  return last?.role === "tool" ? last.results : [];
}

const say = (text: string): ScriptedTurn => ({ text });
const call = (name: string, args: Record<string, unknown>, id?: string): ScriptedTurn => ({
  toolCalls: [{ id, name, arguments: args }],
});
const echo = (n: number) => call("run_command", { command: `echo ${n}` });
const done = (summary = "All done."): ScriptedTurn => ({
  toolCalls: [{ name: "finish", arguments: { status: "done", summary } }],
});

describe("runAgent", () => {
  it("ends the agent when the model answers without tool calls, with that text as the summary", async () => {
    const h = await harness({
      turns: [say("The code already does this."), say("The code already does this; nothing to change.")],
    });
    const emitter = new RunEmitter(h.store, RUN);
    const started = await emitter.emit({
      type: "agent.started",
      agentId: "agt_1",
      data: { name: "general", role: "r", task: "Check it", model: "scripted/scripted", tools: [] },
    });
    const outcome = await runAgent(
      {
        emitter,
        model: h.ctx.model,
        tools: builtinTools,
        workspace: h.fx.workspace,
        sandbox: h.sandbox,
        approval: h.ctx.approval,
        budget: { maxSteps: 5, used: { tokens: 0, costUsd: 0 } },
        ids: h.ctx.ids,
        clock: h.ctx.clock,
        signal: h.ctx.signal,
      },
      generalAgent,
      "agt_1",
      [started],
    );
    assert.equal(outcome.reason, "no_tool_calls");
    assert.deepEqual(outcome.report, {
      status: "done",
      summary: "The code already does this; nothing to change.",
      filesChanged: [],
    });
    assert.deepEqual(h.requests[0], [{ role: "user", content: "Check it" }], "the task is the first message");
    // An agent with tools to act that answered before using any is told so once; its second answer stands.
    const [nudge] = await h.ofType("protocol.fallback");
    assert.equal(nudge?.data.kind, "nudged");
    assert.match(JSON.stringify(h.requests[1]?.at(-1)), /without using any tool/);
    const fallbacks = (await h.ofType("protocol.fallback")).map((e) => e.data.kind);
    assert.deepEqual(fallbacks, ["nudged", "report_from_text"], "the text report is marked as a fallback");
    const [finished] = await h.ofType("agent.finished");
    assert.equal(finished?.data.reason, "no_tool_calls");
  });

  it("runs a whole run to success when the model answers in text", async () => {
    const h = await harness({ turns: [say("Nothing needed changing."), say("Nothing needed changing.")] });
    const state = await h.drive();
    assert.equal(state.status, "succeeded");
    assert.equal(state.summary, "Nothing needed changing.");
    assert.equal(state.verification, undefined, "nothing changed, so there is nothing to verify");
    const [step] = await h.ofType("agent.step.ended");
    assert.equal(step?.data.text, "Nothing needed changing.");
  });

  it("answers an unknown tool with an error result the next request carries, and goes on", async () => {
    const h = await harness({ turns: [call("teleport", { to: "prod" }), say("OK, no teleport.")] });
    const state = await h.drive();
    assert.equal(state.status, "succeeded");
    const [result] = toolResults(h.requests[1]);
    assert.equal(result?.name, "teleport");
    assert.equal(result?.isError, true);
    assert.match(result?.output ?? "", /^Unknown tool "teleport"\. Available tools: .*run_command/);
    const [ended] = await h.ofType("tool.call.ended");
    assert.equal(ended?.data.skipped, "unknown_tool");
  });

  it("answers invalid arguments with the field named, and does not run the tool", async () => {
    const h = await harness({ turns: [call("write_file", { path: 7 }), say("I will fix my call.")] });
    const state = await h.drive();
    assert.equal(state.status, "succeeded");
    const [result] = toolResults(h.requests[1]);
    assert.equal(result?.isError, true);
    assert.match(result?.output ?? "", /^Invalid arguments for write_file:\n- path: /m);
    assert.match(result?.output ?? "", /- content: /);
    assert.deepEqual(await h.ofType("tool.call.started"), [], "an invalid call never starts");
  });

  it("answers arguments that are not JSON with an error result", async () => {
    const h = await harness({
      turns: [
        { toolCalls: [{ name: "run_command", argumentsText: '{"command": "touch x.txt"' }] },
        say("Sorry about that."),
      ],
    });
    const state = await h.drive();
    assert.equal(state.status, "succeeded");
    const [result] = toolResults(h.requests[1]);
    assert.equal(result?.isError, true);
    assert.match(result?.output ?? "", /arguments of run_command were not valid JSON/);
    assert.equal(existsSync(h.file("x.txt")), false);
  });

  describe("approval gate (ask-risky)", () => {
    it("denied: the command does not run and the model is told the user's reason", async () => {
      const h = await harness({
        approval: {
          mode: "ask-risky",
          decide: (r) =>
            r.tool === "run_command"
              ? { decision: "deny", by: "test", reason: "do not touch the file system" }
              : { decision: "approve", by: "test" },
        },
        turns: [call("run_command", { command: "touch denied.txt" }), say("Understood.")],
      });
      await h.drive();
      assert.equal(existsSync(h.file("denied.txt")), false, "a denied command must not run");
      assert.deepEqual(
        h.approvals.map((a) => [a.tool, a.risk, a.args]),
        [["run_command", "execute", { command: "touch denied.txt" }]],
      );
      const [result] = toolResults(h.requests[1]);
      assert.equal(result?.isError, true);
      assert.match(
        result?.output ?? "",
        /denied this run_command call\. Reason: do not touch the file system/,
      );
      const [resolved] = await h.ofType("approval.resolved");
      assert.deepEqual(
        [resolved?.data.decision, resolved?.data.reason],
        ["deny", "do not touch the file system"],
      );
      assert.deepEqual(await h.ofType("tool.call.started"), []);
    });

    it("approved: the command runs, after the approval is logged", async () => {
      const h = await harness({
        approval: { mode: "ask-risky" },
        turns: [call("run_command", { command: "touch approved.txt" }), say("Done.")],
      });
      await h.drive();
      assert.equal(existsSync(h.file("approved.txt")), true);
      assert.deepEqual(
        h.approvals.map((a) => [a.tool, a.reason]),
        [["run_command", "approval mode ask-risky: execute calls are asked"]],
      );
      const types = (await h.events()).map((e) => e.type);
      assert.ok(
        types.indexOf("approval.resolved") < types.indexOf("tool.call.started"),
        "the call starts only after the decision",
      );
    });

    it("edited: the user's arguments run instead of the model's", async () => {
      const h = await harness({
        approval: {
          mode: "ask-risky",
          decide: () => ({ decision: "edit", by: "test", editedArgs: { command: "touch edited.txt" } }),
        },
        turns: [call("run_command", { command: "touch original.txt" }), say("Done.")],
      });
      await h.drive();
      assert.equal(existsSync(h.file("edited.txt")), true);
      assert.equal(existsSync(h.file("original.txt")), false);
      const [result] = toolResults(h.requests[1]);
      assert.match(result?.output ?? "", /^\$ touch edited\.txt\nexit code 0/);
    });

    it("does not ask for a write under ask-risky", async () => {
      const h = await harness({
        approval: { mode: "ask-risky", decide: () => ({ decision: "deny", by: "test" }) },
        turns: [call("write_file", { path: "notes.txt", content: "hi\n" }), say("Written.")],
      });
      await h.drive();
      assert.deepEqual(h.approvals, []);
      assert.equal(await readFile(h.file("notes.txt"), "utf8"), "hi\n");
    });
  });

  describe("budgets", () => {
    it("stops at the step budget: agent finished with max_steps, run failed naming the budget", async () => {
      // distinct calls, so only the step budget can stop the agent (not a loop detector)
      const h = await harness({ budget: { maxSteps: 2 }, turns: [echo(1), echo(2), echo(3)] });
      const state = await h.drive();
      const [finished] = await h.ofType("agent.finished");
      assert.equal(finished?.data.reason, "max_steps");
      assert.equal(state.status, "failed");
      assert.equal(state.summary, "Stopped after 2 steps: the step budget (2) is used up.");
      assert.equal(h.requests.length, 2, "no third model call");
    });

    it("stops when the run's token budget is used up", async () => {
      const h = await harness({
        budget: { maxSteps: 10, maxTokens: 100 },
        turns: [{ ...echo(1), usage: { inputTokens: 80, outputTokens: 30 } }, say("must not be asked")],
      });
      const state = await h.drive();
      const [finished] = await h.ofType("agent.finished");
      assert.equal(finished?.data.reason, "budget");
      assert.equal(state.status, "failed");
      assert.match(state.summary ?? "", /token budget \(100\) is used up \(110 tokens\)/);
      assert.equal(h.requests.length, 1);
    });
  });

  describe("checkpoints", () => {
    it("write_file produces a checkpoint with the file", async () => {
      const h = await harness({
        turns: [call("write_file", { path: "src/new.ts", content: "export {};\n" }, "call_w"), done()],
      });
      const state = await h.drive();
      assert.equal(state.status, "succeeded");
      const [cp] = await h.ofType("checkpoint.created");
      assert.deepEqual([cp?.data.filesChanged, cp?.data.callId], [["src/new.ts"], "call_w"]);
      assert.equal(cp?.data.label, "write_file (step 1)");
      const [diff] = await h.ofType("diff.ready");
      assert.deepEqual(diff?.data.files, [{ path: "src/new.ts", status: "added" }]);
    });

    it("a shell command's effects are captured in a checkpoint too", async () => {
      const h = await harness({
        turns: [call("run_command", { command: "echo made > made.txt && rm README.md" }, "call_c"), done()],
      });
      await h.drive();
      const [cp] = await h.ofType("checkpoint.created");
      assert.deepEqual(cp?.data.filesChanged.sort(), ["README.md", "made.txt"]);
      assert.equal(cp?.data.callId, "call_c");
    });

    it("a command that changes nothing makes no checkpoint", async () => {
      const h = await harness({ turns: [call("run_command", { command: "cat README.md" }), done()] });
      await h.drive();
      assert.deepEqual(await h.ofType("checkpoint.created"), []);
    });
  });

  it("a retry from the model logs llm.retry and discards the partial text of the failed attempt", async () => {
    const requests: ModelRequest[] = [];
    const model: Model = {
      provider: "test",
      id: "flaky",
      scripted: false,
      async *stream(request): AsyncGenerator<ModelPart> {
        requests.push(request);
        yield { type: "text-delta", text: "Half a thou" };
        yield {
          type: "retry",
          attempt: 1,
          delayMs: 0,
          reason: "stream cut; partial output of this attempt is discarded",
          partialDiscarded: true,
        };
        yield { type: "text-delta", text: "The whole answer." };
        yield { type: "usage", usage: { inputTokens: 10, outputTokens: 4 } };
        yield { type: "finish", reason: "stop" };
      },
    };
    const h = await harness({ model });
    const state = await h.drive();
    const [retry] = await h.ofType("llm.retry");
    assert.deepEqual([retry?.data.step, retry?.data.attempt], [1, 1]);
    assert.match(retry?.data.reason ?? "", /stream cut/);
    const [step] = await h.ofType("agent.step.ended");
    assert.equal(step?.data.text, "The whole answer.");
    assert.equal(state.summary, "The whole answer.");
    const types = (await h.events()).map((e) => e.type);
    assert.ok(
      types.indexOf("llm.retry") < types.lastIndexOf("agent.text.delta"),
      "the retry is logged in order",
    );
  });

  it("an empty answer (no text, no tool calls) is asked again once, then ends the agent as failed", async () => {
    const h = await harness({ turns: [{}, {}] });
    const state = await h.drive();
    const [finished] = await h.ofType("agent.finished");
    assert.equal(finished?.data.report.status, "failed");
    assert.equal(finished?.data.reason, "error");
    assert.equal(state.status, "failed");
    assert.equal(h.requests.length, 2, "asked once more after the empty answer");
    assert.match(JSON.stringify(h.requests[1]?.at(-1)), /Your last answer was empty/);
  });

  it("runs the other calls of a turn before finish, even when finish comes first", async () => {
    const h = await harness({
      turns: [
        {
          toolCalls: [
            {
              name: "finish",
              arguments: { status: "done", summary: "Wrote a.txt.", files_changed: ["a.txt"] },
            },
            { name: "write_file", arguments: { path: "a.txt", content: "A\n" } },
          ],
        },
      ],
    });
    const state = await h.drive();
    assert.equal(await readFile(h.file("a.txt"), "utf8"), "A\n");
    assert.deepEqual(
      (await h.ofType("tool.call.ended")).map((e) => e.data.name),
      ["write_file", "finish"],
    );
    const [finished] = await h.ofType("agent.finished");
    assert.equal(finished?.data.reason, "finish");
    assert.deepEqual(finished?.data.report.filesChanged, ["a.txt"]);
    assert.equal(state.status, "succeeded");
    assert.equal(
      state.summary,
      "Wrote a.txt.\nNot verified: no test command was found; set testCommand in .entourage/config.json or pass --test-command.",
    );
    assert.equal(state.verification?.status, "not_verified");
  });

  it("ends the agent on the tool declared protocol finish, whatever its name; a tool merely named finish is a tool", async () => {
    const reportBack = { ...finishTool, name: "report_back" } as ToolDefinition;
    const plainFinish = defineTool({
      name: "finish",
      description: "A plugin's tool that happens to be called finish.",
      input: z.object({}),
      risk: "read",
      async execute() {
        return { output: "the plugin's finish ran" };
      },
    }) as ToolDefinition;
    const h = await harness({
      turns: [
        call("finish", {}),
        { toolCalls: [{ name: "report_back", arguments: { status: "partial", summary: "Reported back." } }] },
      ],
    });
    const tools = [...builtinTools.filter((t) => t.protocol !== "finish"), reportBack, plainFinish];
    const agent: AgentDefinition = { ...generalAgent, tools: ["read_file", "finish", "report_back"] };
    await driveRun({ ...h.ctx, tools }, RUN, { agent });
    assert.deepEqual(
      toolResults(h.requests[1]).map((r) => r.output),
      ["the plugin's finish ran"],
    );
    const [finished] = await h.ofType("agent.finished");
    assert.equal(finished?.data.reason, "finish");
    assert.equal(finished?.data.report.status, "partial");
    assert.equal(finished?.data.report.summary, "Reported back.");
  });

  it("uses the agent's own step budget over the run's", async () => {
    const h = await harness({ budget: { maxSteps: 10 }, turns: [echo(1), echo(2), echo(3)] });
    const agent: AgentDefinition = { ...generalAgent, maxSteps: 1 };
    const state = await driveRun(h.ctx, RUN, { agent });
    assert.equal(state.summary, "Stopped after 1 steps: the step budget (1) is used up.");
  });
});

describe("driveRun", () => {
  it("refuses to drive a run that already succeeded", async () => {
    const h = await harness({ turns: [say("Done."), say("Done.")] });
    await h.drive();
    const before = (await h.events()).length;
    await assert.rejects(h.drive(), (e: unknown) => {
      assert.ok(UserError.isInstance(e));
      assert.equal(e.code, "run_finished");
      assert.match(e.message, /already succeeded/);
      return true;
    });
    assert.equal((await h.events()).length, before, "nothing is appended to a finished run");
  });

  it("refuses an unknown run with a hint", async () => {
    const h = await harness();
    await assert.rejects(driveRun(h.ctx, "run_missing"), (e: unknown) => {
      assert.ok(UserError.isInstance(e));
      assert.match(e.message, /No run with id run_missing.*entourage runs/);
      return true;
    });
  });

  it("an abort during a long command leaves the run paused, and a second drive completes it", async () => {
    const controller = new AbortController();
    const h = await harness({
      signal: controller.signal,
      turns: [
        call("run_command", { command: "echo started; sleep 30; touch too-late.txt" }, "call_long"),
        done("Finished after the resume."),
      ],
    });
    const unsubscribe = h.store.subscribe(RUN, (e) => {
      if (e.type === "tool.output.delta") controller.abort();
    });
    await assert.rejects(h.drive(), (e: unknown) => AbortedError.isInstance(e));
    unsubscribe();
    const events = await h.events();
    const last = events.at(-1);
    assert.equal(last?.type, "run.status");
    assert.deepEqual(last?.type === "run.status" && [last.data.status, last.data.reason], [
      "paused",
      "interrupted; continue with: entourage resume run_1",
    ]);
    assert.equal(existsSync(h.file("too-late.txt")), false, "the command was killed");

    const state = await h.drive({ signal: new AbortController().signal });
    assert.equal(state.status, "succeeded");
    assert.equal(state.summary, "Finished after the resume.");
    assert.equal(h.requests.length, 2, "the completed step is not asked again");
    const attached = await h.ofType("run.attached");
    assert.deepEqual(
      attached.map((e) => e.data.resumed),
      [false, true],
    );
  });

  it("after an abort the model is told the command was interrupted, not that it ran out of memory", async () => {
    const controller = new AbortController();
    const h = await harness({
      signal: controller.signal,
      turns: [call("run_command", { command: "echo started; sleep 30" }, "call_long"), done()],
    });
    const unsubscribe = h.store.subscribe(RUN, (e) => {
      if (e.type === "tool.output.delta") controller.abort();
    });
    await assert.rejects(h.drive(), (e: unknown) => AbortedError.isInstance(e));
    unsubscribe();
    await h.drive({ signal: new AbortController().signal });
    const [result] = toolResults(h.requests[1]);
    assert.equal(result?.callId, "call_long");
    assert.doesNotMatch(
      result?.output ?? "",
      /out of memory or a process limit/,
      "Regression: a command killed by the user's interrupt (SIGINT/abort) is reported to the model as killed for " +
        "'out of memory or a process limit' (run_command must throw AbortedError for an aborted exec so the " +
        "call is left without a result and answered as interrupted on resume)",
    );
    assert.match(result?.output ?? "", /interrupted/);
  });
});
