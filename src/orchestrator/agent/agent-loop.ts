import { createHash } from "node:crypto";
import { type AgentDefinition, toolAllowed } from "../../agents/index.ts";
import { AbortedError, type AgentReport, type EntourageEvent, type Usage } from "../../core/index.ts";
import { costOf, type Model, type ModelMessage } from "../../llm/index.ts";
import { type ToolDefinition, toolSpec } from "../../tools/index.ts";
import { agentHistory } from "./conversation.ts";
import { Inbox } from "./inbox.ts";
import { LoopDetector } from "./loop-detector.ts";
import { handleToolCalls, type ToolCall } from "./tool-calls.ts";
import type { AgentLoopDeps, AgentOutcome, RunBudget } from "./types.ts";

export { askApproval, checkpoint } from "./tool-calls.ts";

export type { AgentLoopDeps, AgentOutcome, RunBudget } from "./types.ts";

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
  let nudged = history.nudged;
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
      if (message.redirect) {
        const to = message.redirect.to ? ` to ${message.redirect.to}` : "";
        return finishAgent(deps, agent, agentId, {
          reason: "redirected",
          report: await partialReport(deps, `Redirected${to} by the user: ${message.message}`, "blocked"),
        });
      }
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
      const nudge = nudgeFor(agent, tools, messages, turn.text, nudged);
      if (nudge) {
        // Off-protocol once: the agent is told plainly what is expected, and answers again.
        nudged = true;
        await deps.emitter.emit({
          type: "protocol.fallback",
          agentId,
          data: { kind: "nudged", detail: nudge.detail, message: nudge.message },
        });
        messages.push({ role: "user", content: nudge.message });
        continue;
      }
      if (turn.text.trim() === "") {
        return finishAgent(deps, agent, agentId, {
          reason: "error",
          report: await partialReport(
            deps,
            "The model returned no answer, even after being asked again.",
            "failed",
          ),
        });
      }
      if (tools.some((t) => t.protocol === "finish")) {
        // The agent ended in plain text instead of calling finish: the text is its report.
        await deps.emitter.emit({
          type: "protocol.fallback",
          agentId,
          data: {
            kind: "report_from_text",
            detail: "the agent answered in text without calling finish; its text is the report",
          },
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

/**
 * Whether an answer without tool calls deserves one plain instruction before it is taken as the agent's
 * report: an empty answer, or an agent that has tools to act with but ended before using any of them.
 * Agents whose protocol step takes text (a plan, an answer) are never nudged for answering in text.
 */
function nudgeFor(
  agent: AgentDefinition,
  tools: readonly ToolDefinition[],
  messages: readonly ModelMessage[],
  text: string,
  nudged: boolean,
): { detail: string; message: string } | undefined {
  if (nudged) return undefined;
  const finishName = tools.find((t) => t.protocol === "finish")?.name;
  const how = finishName
    ? `When you are done, call ${finishName} with your report.`
    : "When you are done, answer with a short summary of what you did.";
  if (text.trim() === "") {
    return {
      detail: "the model answered with nothing",
      message: `Your last answer was empty. Continue the task with your tools. ${how}`,
    };
  }
  if (tools.some((t) => t.protocol === "plan")) return undefined;
  const acting = tools.filter((t) => t.protocol === undefined && t.risk !== "read");
  const usedTools = messages.some((m) => m.role === "assistant" && m.toolCalls.length > 0);
  if (acting.length > 0 && !usedTools) {
    return {
      detail: `${agent.name} ended without using any tool`,
      message: `You answered without using any tool, so nothing in the workspace has changed yet. Carry out the task with your tools (${acting.map((t) => t.name).join(", ")}). ${how}`,
    };
  }
  return undefined;
}

/** The model an agent runs on: its own when it names one the composition root could build, else the run's. */
export function modelOf(deps: Pick<AgentLoopDeps, "model" | "modelFor">, agent: AgentDefinition): Model {
  return (agent.model !== undefined ? deps.modelFor?.(agent.model) : undefined) ?? deps.model;
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
