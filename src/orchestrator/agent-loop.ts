import { createHash } from "node:crypto";
import { type AgentDefinition, toolAllowed } from "../agents/index.ts";
import {
  AbortedError,
  type AgentReport,
  type Clock,
  EntourageError,
  type EntourageEvent,
  type EventData,
  errorMessage,
  type IdGenerator,
  type Usage,
} from "../core/index.ts";
import { costOf, type Model, type ModelMessage } from "../llm/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import {
  executeTool,
  prepareCall,
  type Risk,
  type ToolDefinition,
  type ToolResult,
  toolSpec,
} from "../tools/index.ts";
import type { Workspace } from "../workspace/index.ts";
import {
  type ApprovalDecision,
  type ApprovalMode,
  type ApprovalRule,
  type Approver,
  decide,
  describeRule,
  type PolicyVerdict,
} from "./approval.ts";
import { agentHistory, callSignature } from "./conversation.ts";
import type { RunEmitter } from "./emitter.ts";
import type { RunControl } from "./run-control.ts";

/** Run-wide token and cost budget, shared by every agent of the run. */
export interface RunBudget {
  maxSteps: number;
  maxTokens?: number;
  maxCostUsd?: number;
  /** Usage so far, across agents; updated as steps end. */
  used: { tokens: number; costUsd: number };
}

export interface AgentLoopDeps {
  emitter: RunEmitter;
  model: Model;
  tools: readonly ToolDefinition[];
  workspace: Workspace;
  sandbox: Sandbox;
  approval: { mode: ApprovalMode; approver: Approver; rules?: readonly ApprovalRule[] };
  budget: RunBudget;
  ids: IdGenerator;
  clock: Clock;
  signal: AbortSignal;
  /** The live handle people steer the run with (pause, interrupting messages, learned rules); optional. */
  control?: RunControl;
  /** Whether the run's plan is approved (approval mode `plan` is read-only until then); set by runAgent. */
  planApproved?: () => boolean;
  /** Project instructions and lessons given to every agent, after its role prompt (same for the whole run). */
  projectContext?: string;
  /**
   * The model for an agent that names its own (`model` in its definition); undefined: the run's model.
   * The composition root builds these up front and drops (with a warning) a model it cannot build.
   */
  modelFor?: (modelId: string) => Model | undefined;
  /** The running agent's own spending, for its own caps; set by runAgent. */
  agentUsed?: Map<string, { tokens: number; costUsd: number }>;
}

export interface AgentOutcome {
  report: AgentReport;
  reason: EventData<"agent.finished">["reason"];
}

type ToolCall = { id: string; name: string; args: unknown; argsError?: string };

/** Tools that end the agent's turn: handled by the loop itself, after the turn's other calls. */
const TERMINAL: ReadonlySet<string> = new Set(["finish", "propose_plan"]);

/**
 * One agent's loop: model step → tool calls (through the approval gate) → results → next step, until the
 * agent calls `finish`, answers without tool calls, or runs out of budget. Every act is preceded by a
 * durable intent event and followed by a result event; `history` (the agent's events so far) lets the
 * same code continue a run after a crash without repeating completed steps.
 */
export async function runAgent(
  deps: AgentLoopDeps,
  agent: AgentDefinition,
  agentId: string,
  events: readonly EntourageEvent[],
): Promise<AgentOutcome> {
  deps = {
    ...deps,
    planApproved: () => events.some((e) => e.type === "plan.approved" || e.type === "plan.revised"),
  };
  deps = { ...deps, model: modelOf(deps, agent) };
  const { signal } = deps;
  const tools = deps.tools.filter((t) => toolAllowed(agent.tools, t.name));
  const specs = tools.map(toolSpec);
  // The role prompt, then what the project tells every agent (AGENTS.md, lessons): fixed for the whole
  // run, so the prefix stays byte-stable across steps and provider prompt caches hit.
  const system = deps.projectContext ? `${agent.systemPrompt}\n\n${deps.projectContext}` : agent.systemPrompt;
  const specsJson = JSON.stringify(specs);
  const prefix = {
    hash: createHash("sha256").update(system).update(specsJson).digest("hex").slice(0, 16),
    chars: system.length + specsJson.length,
  };
  const maxSteps = agent.maxSteps ?? deps.budget.maxSteps;
  // This agent's own spending, for its own caps: what the log holds, then each new step.
  const agentUsed = { tokens: 0, costUsd: 0 };
  for (const e of events) {
    if (e.type === "llm.response" && e.agentId === agentId) {
      agentUsed.tokens += e.data.usage.inputTokens + e.data.usage.outputTokens;
      agentUsed.costUsd += e.data.costUsd ?? 0;
    }
  }
  deps = { ...deps, agentUsed: new Map([[agentId, agentUsed]]) };
  const history = agentHistory(agentId, events);
  const messages = history.messages;
  let step = history.lastStep;

  // Resume: the last recorded turn may have tool calls whose results were never written.
  if (history.lastTurn?.toolCalls.some((c) => !history.ended.has(c.id))) {
    const outcome = await handleToolCalls(
      deps,
      tools,
      agentId,
      step,
      history.lastTurn.toolCalls,
      messages,
      history,
    );
    if (outcome.finish) return finishAgent(deps, agent, agentId, outcome.finish);
  }

  const loops = new LoopDetector(history.turnSignatures, history.loopWarnings);
  const inbox = new Inbox(events, agentId);
  for (;;) {
    if (signal.aborted) throw new AbortedError("the run was interrupted");
    // Messages from the user reach the agent at a step boundary, after the last turn's tool results.
    for (const message of inbox.take()) {
      await deps.emitter.emit({
        type: "intervention.delivered",
        agentId,
        data: { interventionId: message.interventionId, agentId, step: step + 1 },
      });
      messages.push({ role: "user", content: `[Message from the user] ${message.message}` });
    }
    if (step >= maxSteps) {
      return finishAgent(deps, agent, agentId, {
        reason: "max_steps",
        report: await partialReport(
          deps,
          `Stopped after ${step} steps: the step budget (${maxSteps}) is used up.`,
        ),
      });
    }
    const overBudget =
      budgetExceeded(deps.budget) ??
      budgetExceeded(
        { maxSteps, maxTokens: agent.maxTokens, maxCostUsd: agent.maxCostUsd, used: agentUsed },
        agent.name,
      );
    if (overBudget) {
      return finishAgent(deps, agent, agentId, {
        reason: "budget",
        report: await partialReport(deps, overBudget),
      });
    }
    await deps.control?.gate(signal);
    step += 1;
    const step$ = deps.control?.stepSignal(agentId, signal);
    let turn: { text: string; toolCalls: ToolCall[] };
    try {
      turn = await modelStep(deps, agentId, step, system, messages, specs, prefix, step$?.signal ?? signal);
    } catch (error) {
      if (step$?.interrupted()) {
        // A person interrupted this model call: drop its partial answer; their message is delivered next.
        step -= 1;
        continue;
      }
      throw error;
    } finally {
      step$?.done();
    }
    messages.push({
      role: "assistant",
      text: turn.text,
      toolCalls: turn.toolCalls.map(({ id, name, args }) => ({ id, name, args })),
    });
    if (turn.toolCalls.length === 0) {
      if (turn.text.trim() === "") {
        return finishAgent(deps, agent, agentId, {
          reason: "error",
          report: await partialReport(deps, "The model returned an empty answer twice.", "failed"),
        });
      }
      return finishAgent(deps, agent, agentId, {
        reason: "no_tool_calls",
        report: await partialReport(deps, turn.text, "done"),
      });
    }
    const outcome = await handleToolCalls(deps, tools, agentId, step, turn.toolCalls, messages, undefined);
    if (outcome.finish) return finishAgent(deps, agent, agentId, outcome.finish);
    const loop = loops.observe(turn.toolCalls, outcome.checkpoints > 0);
    if (loop) {
      const stop = loops.warnings >= 1;
      await deps.emitter.emit({
        type: "loop.detected",
        agentId,
        data: {
          kind: loop.kind,
          detail: loop.detail,
          action: stop ? "stopped" : "warned",
          message: stop ? undefined : loop.message,
        },
      });
      if (stop) {
        return finishAgent(deps, agent, agentId, {
          reason: "loop",
          report: await partialReport(deps, `Stopped: ${loop.detail}, after a warning.`, "blocked"),
        });
      }
      loops.warnings += 1;
      messages.push({ role: "user", content: loop.message });
    }
  }
}

/** The model an agent runs on: its own when it names one the composition root could build, else the run's. */
export function modelOf(deps: Pick<AgentLoopDeps, "model" | "modelFor">, agent: AgentDefinition): Model {
  return (agent.model !== undefined ? deps.modelFor?.(agent.model) : undefined) ?? deps.model;
}

/**
 * The user's messages waiting for an agent: `intervention.received` events addressed to it (or to no
 * agent in particular) that no agent has received yet. `events` is the run's live event list (the phase
 * runner appends to it as events are written), so messages sent while the agent works are seen too.
 */
class Inbox {
  private readonly events: readonly EntourageEvent[];
  private readonly agentId: string;
  private scanned = 0;
  private readonly pending = new Map<string, { interventionId: string; message: string; target?: string }>();

  constructor(events: readonly EntourageEvent[], agentId: string) {
    this.events = events;
    this.agentId = agentId;
  }

  take(): { interventionId: string; message: string }[] {
    for (; this.scanned < this.events.length; this.scanned++) {
      const e = this.events[this.scanned]!;
      if (e.type === "intervention.received") {
        this.pending.set(e.data.interventionId, {
          interventionId: e.data.interventionId,
          message: e.data.message,
          target: e.data.targetAgentId,
        });
      } else if (e.type === "intervention.delivered") {
        this.pending.delete(e.data.interventionId);
      }
    }
    const mine = [...this.pending.values()].filter(
      (m) => m.target === undefined || m.target === this.agentId,
    );
    for (const m of mine) this.pending.delete(m.interventionId);
    return mine;
  }
}

/**
 * Notices an agent going in circles: the same tool call with the same arguments in three turns running,
 * or `stallTurns` turns with no new call and no change to the workspace. Seeded from the log on resume.
 */
export class LoopDetector {
  private readonly turns: string[][];
  private quietTurns = 0;
  warnings: number;
  readonly stallTurns: number;

  constructor(turns: string[][] = [], warnings = 0, stallTurns = 8) {
    this.turns = [...turns];
    this.warnings = warnings;
    this.stallTurns = stallTurns;
  }

  observe(
    calls: readonly { name: string; args: unknown }[],
    changedWorkspace: boolean,
  ): { kind: "repeated_call" | "no_progress"; detail: string; message: string } | undefined {
    const signatures = calls.map(callSignature);
    const seen = new Set(this.turns.flat());
    const novel = signatures.some((sig) => !seen.has(sig));
    const [prev1, prev2] = [this.turns.at(-1), this.turns.at(-2)];
    this.turns.push(signatures);
    this.quietTurns = novel || changedWorkspace ? 0 : this.quietTurns + 1;
    const repeated = signatures.find((sig) => prev1?.includes(sig) && prev2?.includes(sig));
    if (repeated) {
      this.quietTurns = 0;
      const short = repeated.length > 120 ? `${repeated.slice(0, 117)}…` : repeated;
      return {
        kind: "repeated_call",
        detail: `the same call was made in 3 turns running: ${short}`,
        message: `[Entourage] You have made the same call (${short}) three times in a row with the same result. Do not repeat it: change your approach, or call finish with status "blocked" and say what you need.`,
      };
    }
    if (this.quietTurns >= this.stallTurns) {
      this.quietTurns = 0;
      return {
        kind: "no_progress",
        detail: `${this.stallTurns} turns without a new call or a change to the workspace`,
        message: `[Entourage] Your last ${this.stallTurns} turns repeated earlier calls without changing anything. Make progress with a different approach, or call finish with status "blocked" and say what you need.`,
      };
    }
    return undefined;
  }
}

function budgetExceeded(budget: RunBudget, agentName?: string): string | undefined {
  const whose = agentName ? `${agentName}'s` : "the run's";
  if (budget.maxTokens !== undefined && budget.used.tokens >= budget.maxTokens) {
    return `Stopped: ${whose} token budget (${budget.maxTokens}) is used up (${budget.used.tokens} tokens).`;
  }
  if (budget.maxCostUsd !== undefined && budget.used.costUsd >= budget.maxCostUsd) {
    return `Stopped: ${whose} cost budget ($${budget.maxCostUsd}) is used up ($${budget.used.costUsd.toFixed(4)}).`;
  }
  return undefined;
}

async function partialReport(
  deps: AgentLoopDeps,
  summary: string,
  status: AgentReport["status"] = "partial",
): Promise<AgentReport> {
  const changes = await deps.workspace.changes();
  return { status, summary, filesChanged: changes.files.map((f) => f.path) };
}

async function finishAgent(
  deps: AgentLoopDeps,
  agent: AgentDefinition,
  agentId: string,
  outcome: AgentOutcome,
): Promise<AgentOutcome> {
  await deps.emitter.emit({
    type: "agent.finished",
    agentId,
    data: { name: agent.name, report: outcome.report, reason: outcome.reason },
  });
  return outcome;
}

/** Serialised size of each message, computed once: the conversation only grows, so a step costs O(new messages). */
const messageChars = new WeakMap<ModelMessage, { chars: number; parts: number }>();

/** Rough token estimate (4 characters a token) for the `llm.request` event; the response has the real count. */
function estimateTokens(prefixChars: number, messages: ModelMessage[]): number {
  let chars = prefixChars;
  for (const m of messages) {
    // A tool message grows while a turn's results are added: its cached size is valid for its part count.
    const parts = m.role === "tool" ? m.results.length : 1;
    let cached = messageChars.get(m);
    if (cached?.parts !== parts) {
      cached = { chars: JSON.stringify(m).length, parts };
      messageChars.set(m, cached);
    }
    chars += cached.chars;
  }
  return Math.ceil(chars / 4);
}

async function modelStep(
  deps: AgentLoopDeps,
  agentId: string,
  step: number,
  system: string,
  messages: ModelMessage[],
  specs: ReturnType<typeof toolSpec>[],
  prefix: { hash: string; chars: number },
  signal: AbortSignal,
): Promise<{ text: string; toolCalls: ToolCall[] }> {
  const { emitter, model } = deps;
  emitter.post({ type: "agent.step.started", agentId, data: { step } });
  // Queued, not awaited: a model call changes nothing outside the log, and a step without its
  // `agent.step.ended` is asked again on resume whether or not this intent was written.
  emitter.post({
    type: "llm.request",
    agentId,
    data: {
      provider: model.provider,
      model: model.id,
      step,
      attempt: 1,
      messages: messages.length,
      estimatedInputTokens: estimateTokens(prefix.chars, messages),
      prefixHash: prefix.hash,
    },
  });
  const started = deps.clock();
  let firstTokenMs: number | undefined;
  let text = "";
  let toolCalls: ToolCall[] = [];
  let usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let finishReason = "unknown";
  for await (const part of model.stream({ system, messages, tools: specs, signal })) {
    switch (part.type) {
      case "text-delta":
        firstTokenMs ??= deps.clock() - started;
        text += part.text;
        emitter.emitDelta({ type: "agent.text.delta", agentId, data: { step, text: part.text } });
        break;
      case "reasoning-delta":
        firstTokenMs ??= deps.clock() - started;
        emitter.emitDelta({ type: "agent.reasoning.delta", agentId, data: { step, text: part.text } });
        break;
      case "tool-call":
        firstTokenMs ??= deps.clock() - started;
        toolCalls.push({ id: part.id, name: part.name, args: part.args, argsError: part.argsError });
        break;
      case "usage":
        usage = part.usage;
        break;
      case "finish":
        finishReason = part.reason;
        break;
      case "retry":
        // Whatever streamed before the failure is discarded; the model answers the same turn again.
        text = "";
        toolCalls = [];
        await emitter.emit({
          type: "llm.retry",
          agentId,
          data: {
            step,
            attempt: part.attempt,
            delayMs: part.delayMs,
            reason: part.reason,
            status: part.status,
          },
        });
        break;
      default:
        break;
    }
  }
  const costUsd = costOf(model.provider, model.id, usage);
  deps.budget.used.tokens += usage.inputTokens + usage.outputTokens;
  deps.budget.used.costUsd += costUsd ?? 0;
  const own = deps.agentUsed?.get(agentId);
  if (own) {
    own.tokens += usage.inputTokens + usage.outputTokens;
    own.costUsd += costUsd ?? 0;
  }
  emitter.post({
    type: "llm.response",
    agentId,
    data: { step, usage, costUsd, latencyMs: deps.clock() - started, firstTokenMs, finishReason },
  });
  // Not awaited: nothing acts on it; the next intent (a tool call starting, the next model request)
  // is awaited and is written after it, so it is durable by then.
  emitter.post({
    type: "agent.step.ended",
    agentId,
    data: {
      step,
      text,
      toolCalls: toolCalls.map(({ id, name, args }) => ({ id, name, args })),
      finishReason,
      usage,
      costUsd,
    },
  });
  return { text, toolCalls };
}

/**
 * Runs one turn's tool calls in order. `resumed` carries what the log already holds for these calls: a
 * call with a result is skipped; a call whose intent was logged but whose result was not was cut off by
 * a crash. A call that never started (e.g. the process died while waiting for approval) goes through the
 * gate again; one that started is re-run if it only reads, and otherwise reported to the model as
 * interrupted (its effects may or may not be in the workspace) rather than silently repeated.
 * Returns an outcome when the agent called `finish`.
 */
async function handleToolCalls(
  deps: AgentLoopDeps,
  tools: readonly ToolDefinition[],
  agentId: string,
  step: number,
  calls: readonly ToolCall[],
  messages: ModelMessage[],
  resumed:
    | { requested: Map<string, EventData<"tool.call.requested">>; started: Set<string>; ended: Set<string> }
    | undefined,
): Promise<{ finish?: AgentOutcome; checkpoints: number }> {
  const { emitter } = deps;
  const results: { callId: string; name: string; output: string; isError: boolean }[] = [];
  let checkpoints = 0;
  let finish: AgentOutcome | undefined;
  // `finish` goes last so every other call of the turn has its result before the agent ends.
  const ordered = [
    ...calls.filter((c) => !TERMINAL.has(c.name)),
    ...calls.filter((c) => TERMINAL.has(c.name)),
  ];
  for (const call of ordered) {
    if (resumed?.ended.has(call.id)) continue;
    if (deps.signal.aborted) throw new AbortedError("the run was interrupted");
    const end = async (
      output: string,
      isError: boolean,
      extra: Partial<EventData<"tool.call.ended">> = {},
    ): Promise<void> => {
      results.push({ callId: call.id, name: call.name, output, isError });
      emitter.post({
        type: "tool.call.ended",
        agentId,
        data: { callId: call.id, name: call.name, output, isError, durationMs: 0, ...extra },
      });
    };
    const prepared = prepareCall(tools, call.name, call.args, call.argsError);
    const logged = resumed?.requested.get(call.id);
    if (!logged) {
      // Durable before the call acts: `tool.call.started` or `approval.requested`, awaited below, follow it.
      emitter.post({
        type: "tool.call.requested",
        agentId,
        data: {
          callId: call.id,
          name: call.name,
          args: call.args,
          risk: prepared.ok ? prepared.risk : "execute",
          step,
        },
      });
    }
    if (!prepared.ok) {
      // A tool the run has but this agent's allow-list leaves out: refused, and the agent is told why.
      if (prepared.reason === "unknown_tool" && deps.tools.some((t) => t.name === call.name)) {
        await end(
          `${call.name} is not in this agent's tool allow-list, so the call was refused. Its tools: ${tools.map((t) => t.name).join(", ")}. Use those, or call finish and say what you need.`,
          true,
          { skipped: "not_allowed" },
        );
        continue;
      }
      await end(prepared.message, true, { skipped: prepared.reason });
      continue;
    }
    const interrupted = resumed?.started.has(call.id) ?? false;
    if (interrupted && prepared.risk !== "read" && !prepared.tool.idempotent) {
      await end(
        `This ${call.name} call was interrupted (the Entourage process stopped) before its result was recorded. ` +
          "Its effects may or may not be in the workspace: check before running it again.",
        true,
        { skipped: "interrupted" },
      );
      continue;
    }
    let input = prepared.input;
    const verdict: PolicyVerdict = interrupted
      ? { action: "allow" }
      : decide(
          {
            mode: deps.approval.mode,
            rules: [...(deps.approval.rules ?? []), ...(deps.control?.learnedRules ?? [])],
            planApproved: deps.planApproved,
          },
          { tool: call.name, risk: prepared.risk, args: input },
        );
    if (verdict.action === "deny") {
      await end(
        `This ${call.name} call is not allowed (${verdict.reason}). Do not retry it as is; adapt your approach.`,
        true,
        {
          skipped: "denied",
        },
      );
      continue;
    }
    if (verdict.action === "ask") {
      const decision = await askApproval(deps, {
        agentId,
        callId: call.id,
        tool: call.name,
        args: input,
        risk: prepared.risk,
        reason: verdict.reason,
      });
      if (decision.decision === "deny") {
        const why = decision.reason ? ` Reason: ${decision.reason}` : "";
        await end(
          `The user denied this ${call.name} call.${why} Do not retry it as is; adapt your approach.`,
          true,
          {
            skipped: "denied",
          },
        );
        continue;
      }
      if (decision.decision === "edit") {
        const edited = prepareCall(tools, call.name, decision.editedArgs);
        if (!edited.ok) {
          await end(`The user's edited arguments are invalid: ${edited.message}`, true, {
            skipped: "invalid",
          });
          continue;
        }
        input = edited.input;
      }
    }
    if (call.name === "finish") {
      const args = input as {
        status: AgentReport["status"];
        summary: string;
        files_changed: string[];
        tests_passed?: boolean;
        notes?: string;
      };
      await end("Report received.", false);
      finish = {
        reason: "finish",
        report: {
          status: args.status,
          summary: args.summary,
          filesChanged: args.files_changed,
          testsPassed: args.tests_passed,
          notes: args.notes,
        },
      };
      continue;
    }
    if (call.name === "propose_plan") {
      const plan = input as { facts: string[]; steps: { description: string; owner: string }[] };
      await end("Plan received; it goes to the user for approval before anything changes.", false);
      await emitter.emit({
        type: "plan.proposed",
        agentId,
        data: {
          planId: deps.ids("plan"),
          plan: {
            facts: plan.facts,
            steps: plan.steps.map((st, i) => ({ id: `s${i + 1}`, ...st, status: "pending" as const })),
          },
        },
      });
      finish = {
        reason: "plan",
        report: {
          status: "done",
          summary: `Proposed a plan of ${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"}.`,
          filesChanged: [],
        },
      };
      continue;
    }
    const result = await runTool(deps, prepared.tool, input, agentId, call.id);
    await end(result.output, result.isError ?? false, {
      durationMs: (result.metadata?.durationMs as number | undefined) ?? 0,
      exitCode: result.metadata?.exitCode as number | undefined,
      metadata: result.metadata,
    });
    if (result.changed === "unknown" || (result.changed && result.changed.length > 0)) {
      if (await checkpoint(deps, agentId, `${call.name} (step ${step})`, call.id)) checkpoints += 1;
    }
  }
  if (results.length > 0) {
    const last = messages.at(-1);
    if (last?.role === "tool") last.results.push(...results);
    else messages.push({ role: "tool", results });
  }
  return { finish, checkpoints };
}

async function runTool(
  deps: AgentLoopDeps,
  tool: ToolDefinition,
  input: unknown,
  agentId: string,
  callId: string,
): Promise<ToolResult> {
  const { emitter } = deps;
  await emitter.emit({ type: "tool.call.started", agentId, data: { callId, name: tool.name } });
  const started = deps.clock();
  try {
    const result = await executeTool(tool, input, {
      workspace: deps.workspace,
      sandbox: deps.sandbox,
      signal: deps.signal,
      onOutput: (text, stream) =>
        emitter.emitDelta({ type: "tool.output.delta", agentId, data: { callId, stream, text } }),
    });
    return { ...result, metadata: { durationMs: deps.clock() - started, ...result.metadata } };
  } catch (error) {
    if (AbortedError.isInstance(error) || deps.signal.aborted) throw error;
    const message = EntourageError.isInstance(error) ? error.message : errorMessage(error);
    return {
      output: `${tool.name} failed: ${message}`,
      isError: true,
      metadata: { durationMs: deps.clock() - started },
    };
  }
}

/** Snapshots the workspace (files changed by edits and by commands alike) and logs the checkpoint. */
export async function checkpoint(
  deps: Pick<AgentLoopDeps, "workspace" | "emitter">,
  agentId: string | undefined,
  label: string,
  callId?: string,
) {
  const snap = await deps.workspace.snapshot(label);
  if (!snap) return undefined;
  return deps.emitter.emit({
    type: "checkpoint.created",
    agentId,
    data: { ref: snap.ref, label, filesChanged: snap.filesChanged, callId },
  });
}

/**
 * Asks for a person's decision: logs `approval.requested`, waits for the first answer (terminal, API,
 * timeout), saves an "always allow" rule if one came with it, and logs `approval.resolved`.
 */
export async function askApproval(
  deps: Pick<AgentLoopDeps, "emitter" | "approval" | "ids" | "signal" | "control">,
  request: { agentId: string; callId?: string; tool: string; args: unknown; risk: Risk; reason: string },
): Promise<ApprovalDecision> {
  const approvalId = deps.ids("appr");
  const { agentId, ...data } = request;
  await deps.emitter.emit({ type: "approval.requested", agentId, data: { approvalId, ...data } });
  const decision = await deps.approval.approver({ approvalId, ...request }, deps.signal);
  if (decision.rule && deps.control) await deps.control.learn(decision.rule);
  await deps.emitter.emit({
    type: "approval.resolved",
    agentId,
    data: {
      approvalId,
      decision: decision.decision,
      by: decision.by,
      reason: decision.reason,
      editedArgs: decision.editedArgs,
      ruleLearned: decision.rule ? describeRule(decision.rule) : undefined,
    },
  });
  return decision;
}
