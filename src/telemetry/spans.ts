import { createHash } from "node:crypto";
import type { EntourageEvent, EventOf, RunStatus } from "../core/index.ts";
import { isTerminal } from "../core/index.ts";

/** An attribute value as OTLP carries it: integers and doubles stay apart when encoded. */
export type AttributeValue = string | number | boolean | string[];
export type Attributes = Record<string, AttributeValue>;

/**
 * One span of a run's trace, derived from its events. Times are the events' own (milliseconds since the
 * epoch); ids are hex, derived from the run id and event ids, so deriving the same log twice gives the same
 * trace and a receiver can drop what it already has.
 */
export interface TraceSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: "internal" | "client";
  startMs: number;
  endMs: number;
  attributes: Attributes;
  events: { timeMs: number; name: string; attributes: Attributes }[];
  links: { traceId: string; spanId: string; attributes: Attributes }[];
  status?: { code: "error"; message?: string };
}

/** The trace id of a run: 16 bytes of SHA-256 over its id. */
export function traceIdOf(runId: string): string {
  return createHash("sha256").update(`entourage/trace/${runId}`).digest("hex").slice(0, 32);
}

/** The id of a run's root span (an `invoke_workflow` span). */
export function rootSpanIdOf(runId: string): string {
  return spanIdOf(runId, "run");
}

function spanIdOf(runId: string, key: string): string {
  return createHash("sha256").update(`entourage/span/${runId}/${key}`).digest("hex").slice(0, 16);
}

/**
 * `gen_ai.provider.name` for Entourage's provider names (the conventions' well-known values). An
 * OpenAI-compatible server speaks OpenAI's API, so it is `openai` as the conventions ask; `server.address`
 * says which server it was.
 */
const PROVIDER_NAMES: Record<string, string> = {
  openai: "openai",
  "openai-compatible": "openai",
  anthropic: "anthropic",
  google: "gcp.gemini",
};

export function providerName(provider: string): string {
  return PROVIDER_NAMES[provider] ?? provider;
}

/** The AI SDK's finish reasons (`tool-calls`) in the conventions' spelling (`tool_calls`). */
function finishReason(reason: string): string {
  return reason.replaceAll("-", "_");
}

/** Agents that ended this way did not do their job; the span says so (status ERROR, `error.type`). */
const FAILED_AGENT_REASONS = new Set(["error", "max_steps", "budget", "loop"]);

interface OpenSpan extends TraceSpan {
  open: boolean;
}

interface AgentState {
  span: OpenSpan;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** The open model call (chat span) of the current step. */
  chat?: OpenSpan;
}

/**
 * The spans of a run, following the OpenTelemetry GenAI semantic conventions:
 *
 * - the run: `invoke_workflow {mode}` (root; `gen_ai.workflow.name` is the orchestration mode);
 * - each agent: `invoke_agent {name}`, under the agent that started it, or under the `delegate` call
 *   that spawned it (dynamic mode), else under the run;
 * - each model step: `chat {model}` (kind CLIENT) under its agent, covering its retries (span events),
 *   with usage, finish reason, provider and server;
 * - each tool call: `execute_tool {name}` under its agent, from request to result (approvals are span events);
 * - setup and verification commands: `entourage.setup` / `entourage.verification` under the run.
 *
 * No prompt, answer, tool argument or output is copied: the conventions make content opt-in, and a trace
 * often goes to a shared backend. A span still open at the end of the log ends at the last event; if the
 * run has finished it was cut off (status ERROR, `error.type` the run's error or `interrupted`), otherwise
 * the run is still going (`entourage.incomplete`).
 */
export function runSpans(events: readonly EntourageEvent[]): TraceSpan[] {
  const first = events[0];
  if (!first) return [];
  const runId = first.runId;
  const traceId = traceIdOf(runId);
  const spans: OpenSpan[] = [];
  const open = (
    key: string,
    fields: Omit<TraceSpan, "traceId" | "spanId" | "events" | "links" | "endMs">,
  ) => {
    const span: OpenSpan = {
      traceId,
      spanId: spanIdOf(runId, key),
      ...fields,
      endMs: fields.startMs,
      events: [],
      links: [],
      open: true,
    };
    spans.push(span);
    return span;
  };
  const close = (span: OpenSpan, timeMs: number) => {
    span.endMs = Math.max(span.startMs, timeMs);
    span.open = false;
  };
  const fail = (span: TraceSpan, type: string, message?: string) => {
    span.attributes["error.type"] = type;
    span.status = { code: "error", message };
  };

  const created = first.type === "run.created" ? (first as EventOf<"run.created">).data : undefined;
  let baseUrl = created?.model.baseUrl;
  const root = open("run", {
    name: `invoke_workflow ${created?.mode ?? "run"}`,
    kind: "internal",
    startMs: first.time,
    attributes: {
      "gen_ai.operation.name": "invoke_workflow",
      "gen_ai.workflow.name": created?.mode ?? "run",
      "gen_ai.conversation.id": runId,
      "entourage.run.id": runId,
      ...(created
        ? {
            "entourage.run.mode": created.mode,
            "entourage.run.approval": created.approval,
            "entourage.sandbox.backend": created.sandbox.backend,
            "gen_ai.provider.name": providerName(created.model.provider),
            "gen_ai.request.model": created.model.model,
          }
        : {}),
    },
  });
  if (created?.forkedFrom)
    root.links.push({
      traceId: traceIdOf(created.forkedFrom.runId),
      spanId: rootSpanIdOf(created.forkedFrom.runId),
      attributes: { "entourage.link": "forked_from", "entourage.forked_at_seq": created.forkedFrom.seq },
    });

  const agents = new Map<string, AgentState>();
  const tools = new Map<string, { span: OpenSpan; agent?: AgentState }>();
  const commands = new Map<string, OpenSpan>();
  /** approval id → the tool call it is about. */
  const approvals = new Map<string, string>();
  let finished: EventOf<"run.finished"> | undefined;
  let status: RunStatus | undefined;

  const spanEvent = (span: TraceSpan, e: EntourageEvent, attributes: Attributes = {}) =>
    span.events.push({
      timeMs: e.time,
      name: e.type,
      attributes: { "entourage.event.seq": e.seq, ...attributes },
    });
  const ownerOf = (e: EntourageEvent): OpenSpan =>
    (e.agentId ? agents.get(e.agentId)?.span : undefined) ?? root;
  const serverAttributes = (): Attributes => {
    if (!baseUrl) return {};
    try {
      const url = new URL(baseUrl);
      const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
      return { "server.address": url.hostname, "server.port": port };
    } catch {
      return {};
    }
  };

  for (const e of events) {
    switch (e.type) {
      case "agent.started": {
        const parentAgent = e.data.parentAgentId ? agents.get(e.data.parentAgentId) : undefined;
        const delegateCall = /^delegate:(.+):\d+$/.exec(e.data.phase ?? "")?.[1];
        const parent =
          (delegateCall ? tools.get(delegateCall)?.span : undefined) ?? parentAgent?.span ?? root;
        const [provider, ...rest] = e.data.model.split("/");
        const model = rest.length > 0 ? rest.join("/") : (provider ?? "");
        const span = open(`agent/${e.agentId ?? e.id}`, {
          parentSpanId: parent.spanId,
          name: `invoke_agent ${e.data.name}`,
          kind: "internal",
          startMs: e.time,
          attributes: {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": e.data.name,
            "gen_ai.agent.description": e.data.role,
            "gen_ai.conversation.id": runId,
            ...(e.agentId ? { "gen_ai.agent.id": e.agentId } : {}),
            ...(rest.length > 0 ? { "gen_ai.provider.name": providerName(provider!) } : {}),
            ...(model ? { "gen_ai.request.model": model } : {}),
            ...(e.data.phase ? { "entourage.agent.phase": e.data.phase } : {}),
          },
        });
        if (e.agentId)
          agents.set(e.agentId, {
            span,
            provider: rest.length > 0 ? provider! : "",
            model,
            inputTokens: 0,
            outputTokens: 0,
          });
        break;
      }
      case "agent.step.started": {
        const agent = e.agentId ? agents.get(e.agentId) : undefined;
        if (!agent) break;
        // A step started again without an end: the earlier attempt was cut off (a crash, then resume).
        if (agent.chat?.open) {
          close(agent.chat, e.time);
          fail(agent.chat, "interrupted");
        }
        agent.chat = open(`chat/${e.id}`, {
          parentSpanId: agent.span.spanId,
          name: `chat ${agent.model}`,
          kind: "client",
          startMs: e.time,
          attributes: {
            "gen_ai.operation.name": "chat",
            "gen_ai.conversation.id": runId,
            "entourage.agent.step": e.data.step,
            ...(agent.provider ? { "gen_ai.provider.name": providerName(agent.provider) } : {}),
            ...(agent.model ? { "gen_ai.request.model": agent.model } : {}),
            ...serverAttributes(),
          },
        });
        break;
      }
      case "llm.request": {
        const chat = e.agentId ? agents.get(e.agentId)?.chat : undefined;
        if (!chat?.open) break;
        chat.name = `chat ${e.data.model}`;
        chat.attributes["gen_ai.request.model"] = e.data.model;
        chat.attributes["gen_ai.provider.name"] = providerName(e.data.provider);
        chat.attributes["entourage.model.provider"] = e.data.provider;
        chat.attributes["entourage.llm.attempts"] = e.data.attempt;
        break;
      }
      case "llm.retry": {
        const chat = e.agentId ? agents.get(e.agentId)?.chat : undefined;
        if (!chat?.open) break;
        chat.attributes["entourage.llm.attempts"] = e.data.attempt + 1;
        spanEvent(chat, e, {
          "entourage.llm.attempt": e.data.attempt,
          "entourage.llm.retry_delay_ms": e.data.delayMs,
          "entourage.llm.retry_reason": e.data.reason,
          ...(e.data.status !== undefined ? { "http.response.status_code": e.data.status } : {}),
        });
        break;
      }
      case "llm.response": {
        const agent = e.agentId ? agents.get(e.agentId) : undefined;
        const chat = agent?.chat;
        if (!agent || !chat?.open) break;
        const { usage } = e.data;
        Object.assign(chat.attributes, {
          "gen_ai.usage.input_tokens": usage.inputTokens,
          "gen_ai.usage.output_tokens": usage.outputTokens,
          "gen_ai.response.finish_reasons": [finishReason(e.data.finishReason)],
          ...(usage.cachedInputTokens
            ? { "gen_ai.usage.cache_read.input_tokens": usage.cachedInputTokens }
            : {}),
          ...(usage.reasoningTokens ? { "gen_ai.usage.reasoning.output_tokens": usage.reasoningTokens } : {}),
          ...(e.data.costUsd !== undefined ? { "entourage.cost_usd": e.data.costUsd } : {}),
          ...(e.data.firstTokenMs !== undefined
            ? { "entourage.llm.first_token_ms": e.data.firstTokenMs }
            : {}),
        });
        agent.inputTokens += usage.inputTokens;
        agent.outputTokens += usage.outputTokens;
        close(chat, e.time);
        break;
      }
      case "agent.step.ended": {
        const chat = e.agentId ? agents.get(e.agentId)?.chat : undefined;
        if (chat?.open) close(chat, e.time);
        break;
      }
      case "tool.call.requested": {
        const agent = e.agentId ? agents.get(e.agentId) : undefined;
        const span = open(`tool/${e.id}`, {
          parentSpanId: (agent?.span ?? root).spanId,
          name: `execute_tool ${e.data.name}`,
          kind: "internal",
          startMs: e.time,
          attributes: {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": e.data.name,
            "gen_ai.tool.call.id": e.data.callId,
            "gen_ai.tool.type": "function",
            "gen_ai.conversation.id": runId,
            "entourage.tool.risk": e.data.risk,
          },
        });
        tools.set(e.data.callId, { span, agent });
        break;
      }
      case "tool.call.started": {
        const tool = tools.get(e.data.callId);
        if (tool) spanEvent(tool.span, e);
        break;
      }
      case "tool.call.ended": {
        const tool = tools.get(e.data.callId);
        if (!tool?.span.open) break;
        const { span } = tool;
        if (e.data.exitCode !== undefined) span.attributes["process.exit.code"] = e.data.exitCode;
        if (e.data.skipped) span.attributes["entourage.tool.skipped"] = e.data.skipped;
        if (e.data.isError || e.data.skipped)
          fail(
            span,
            e.data.skipped ?? (e.data.exitCode !== undefined ? "exit_code" : "tool_error"),
            e.data.skipped ? `not run: ${e.data.skipped}` : undefined,
          );
        close(span, e.time);
        break;
      }
      case "approval.requested":
      case "approval.resolved": {
        if (e.type === "approval.requested" && e.data.callId) approvals.set(e.data.approvalId, e.data.callId);
        const callId = approvals.get(e.data.approvalId);
        const span = (callId ? tools.get(callId)?.span : undefined) ?? ownerOf(e);
        spanEvent(
          span,
          e,
          e.type === "approval.requested"
            ? { "entourage.approval.id": e.data.approvalId, "entourage.tool.risk": e.data.risk }
            : {
                "entourage.approval.id": e.data.approvalId,
                "entourage.approval.decision": e.data.decision,
                "entourage.approval.by": e.data.by,
              },
        );
        break;
      }
      case "agent.finished": {
        const agent = e.agentId ? agents.get(e.agentId) : undefined;
        if (!agent?.span.open) break;
        if (agent.chat?.open) close(agent.chat, e.time);
        Object.assign(agent.span.attributes, {
          "entourage.agent.finish_reason": e.data.reason,
          "entourage.agent.report.status": e.data.report.status,
        });
        if (FAILED_AGENT_REASONS.has(e.data.reason)) fail(agent.span, e.data.reason);
        close(agent.span, e.time);
        break;
      }
      case "setup.started":
      case "verification.started": {
        const kind = e.type === "setup.started" ? "setup" : "verification";
        commands.set(
          kind,
          open(`${kind}/${e.id}`, {
            parentSpanId: root.spanId,
            name: `entourage.${kind}`,
            kind: "internal",
            startMs: e.time,
            attributes: { "entourage.command": e.data.command },
          }),
        );
        break;
      }
      case "setup.ended":
      case "verification.ended": {
        const kind = e.type === "setup.ended" ? "setup" : "verification";
        const started = commands.get(kind);
        const span =
          started?.open === true
            ? started
            : open(`${kind}/${e.id}`, {
                parentSpanId: root.spanId,
                name: `entourage.${kind}`,
                kind: "internal",
                startMs: e.time,
                attributes: {},
              });
        commands.delete(kind);
        if (e.data.command) span.attributes["entourage.command"] = e.data.command;
        if (e.data.exitCode !== undefined) span.attributes["process.exit.code"] = e.data.exitCode;
        if (e.type === "verification.ended") {
          span.attributes["entourage.verification.status"] = e.data.status;
          if (e.data.reusedSeq !== undefined)
            span.attributes["entourage.verification.reused_seq"] = e.data.reusedSeq;
          if (e.data.status === "failed") fail(span, "tests_failed", e.data.reason);
        } else if (e.data.exitCode !== 0) fail(span, e.data.timedOut ? "timeout" : "exit_code");
        close(span, e.time);
        break;
      }
      case "model.changed":
        baseUrl = e.data.to.baseUrl;
        spanEvent(root, e, {
          "entourage.model.from": `${e.data.from.provider}/${e.data.from.model}`,
          "entourage.model.to": `${e.data.to.provider}/${e.data.to.model}`,
        });
        break;
      case "run.status":
        status = e.data.status;
        spanEvent(root, e, { "entourage.run.status": e.data.status });
        break;
      case "run.attached":
        spanEvent(root, e, { "process.pid": e.data.pid, "entourage.resumed": e.data.resumed });
        break;
      case "run.finished":
        finished = e;
        status = e.data.status;
        break;
      case "intervention.received":
        spanEvent(ownerOf(e), e, {
          "entourage.intervention.by": e.data.by,
          "entourage.interrupt": e.data.interrupt,
        });
        break;
      case "loop.detected":
        spanEvent(ownerOf(e), e, {
          "entourage.loop.kind": e.data.kind,
          "entourage.loop.action": e.data.action,
        });
        break;
      case "protocol.fallback":
        spanEvent(ownerOf(e), e, { "entourage.fallback.kind": e.data.kind });
        break;
      case "run.paused":
      case "run.resumed":
        spanEvent(root, e, { "entourage.by": e.data.by });
        break;
      case "plan.proposed":
      case "plan.approved":
      case "plan.revised":
      case "checkpoint.created":
      case "workspace.restored":
      case "workspace.merged":
      case "diff.ready":
      case "diff.applied":
      case "run.routed":
      case "agent.handoff":
        spanEvent(ownerOf(e), e);
        break;
      default:
        break;
    }
  }

  const last = events[events.length - 1]!;
  const ended = finished !== undefined || (status !== undefined && isTerminal(status));
  const runError = finished?.data.error;
  for (const span of spans) {
    if (!span.open || span === root) continue;
    close(span, last.time);
    if (ended) fail(span, runError?.code ?? "interrupted", runError?.message);
    else span.attributes["entourage.incomplete"] = true;
  }
  close(root, (finished ?? last).time);
  root.attributes["entourage.run.status"] = status ?? "unknown";
  let inputTokens = 0;
  let outputTokens = 0;
  for (const agent of agents.values()) {
    agent.span.attributes["gen_ai.usage.input_tokens"] = agent.inputTokens;
    agent.span.attributes["gen_ai.usage.output_tokens"] = agent.outputTokens;
    inputTokens += agent.inputTokens;
    outputTokens += agent.outputTokens;
  }
  root.attributes["gen_ai.usage.input_tokens"] = inputTokens;
  root.attributes["gen_ai.usage.output_tokens"] = outputTokens;
  if (finished?.data.status === "failed")
    fail(root, runError?.code ?? "failed", runError?.message ?? finished.data.summary);
  if (!ended) root.attributes["entourage.incomplete"] = true;
  return spans.map(({ open: _open, ...span }) => span);
}
