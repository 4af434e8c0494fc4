import { UserError } from "./errors.ts";
import type { AgentReport, EntourageEvent, EventData, Usage, VerificationStatus } from "./events/index.ts";
import { FINAL_RUN_STATUSES, type Risk, type RunStatus } from "./vocabulary.ts";

/** One agent of the run's tree, as folded from its events. */
export interface AgentState {
  agentId: string;
  name: string;
  parentAgentId?: string;
  task: string;
  model: string;
  status: "running" | "finished";
  steps: number;
  usage: Usage;
  costUsd: number;
  report?: AgentReport;
}

export interface PendingToolCall {
  callId: string;
  name: string;
  args: unknown;
  agentId?: string;
  seq: number;
  started: boolean;
}

/** An approval the run waits for: asked by its current driver and not answered yet. */
export interface WaitingApproval {
  approvalId: string;
  agentId: string;
  tool: string;
  args: unknown;
  risk: Risk;
  reason: string;
  /** When it started waiting (ms since the epoch). */
  since: number;
}

export interface RunState {
  runId: string;
  task: string;
  repo: string;
  workspace: string;
  mode: string;
  status: RunStatus;
  model: { provider: string; model: string; baseUrl?: string; scripted?: boolean };
  sandbox: { backend: string; isolated: boolean; warning?: string; image?: string };
  /** Started by `entourage eval`: the eval's id and the task's (SWE-bench instance_id). */
  eval?: { id: string; instanceId: string };
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  summary?: string;
  error?: { code: string; message: string };
  agents: AgentState[];
  activeAgentId?: string;
  usage: Usage;
  costUsd: number;
  /** False once any model step had no known price: views then show tokens only. */
  costKnown: boolean;
  steps: number;
  toolCalls: number;
  /** Tool calls whose intent was logged but whose result was not: interrupted by a crash or still running. */
  pendingToolCalls: PendingToolCall[];
  /**
   * Approvals requested since the driver last attached and not resolved, oldest first. (A request made
   * before the driver changed is asked again by the new one.)
   */
  pendingApprovals: WaitingApproval[];
  checkpoints: { seq: number; ref: string; label: string; filesChanged: string[] }[];
  /** How the request was routed (pipeline): answered by the Analyzer, or changed by the team. */
  route?: { route: "answer" | "change"; reason: string };
  /** The orchestrator's own run of the test command on the final workspace (absent: nothing changed). */
  verification?: { status: VerificationStatus; reason: string; command?: string; exitCode?: number };
  lastSeq: number;
}

const zeroUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0 });

function addUsage(into: Usage, u: Usage): void {
  into.inputTokens += u.inputTokens;
  into.outputTokens += u.outputTokens;
  if (u.cachedInputTokens) into.cachedInputTokens = (into.cachedInputTokens ?? 0) + u.cachedInputTokens;
  if (u.reasoningTokens) into.reasoningTokens = (into.reasoningTokens ?? 0) + u.reasoningTokens;
}

/** The initial state, before `run.created`. */
export function emptyRunState(runId: string): RunState {
  return {
    runId,
    task: "",
    repo: "",
    workspace: "",
    mode: "single",
    status: "queued",
    model: { provider: "", model: "" },
    sandbox: { backend: "", isolated: false },
    createdAt: 0,
    updatedAt: 0,
    agents: [],
    usage: zeroUsage(),
    costUsd: 0,
    costKnown: true,
    steps: 0,
    toolCalls: 0,
    pendingToolCalls: [],
    pendingApprovals: [],
    checkpoints: [],
    lastSeq: -1,
  };
}

/**
 * Folds one event into the run state. Pure apart from mutating `state`, which the caller owns; the state is
 * never a second source of truth — it can always be rebuilt by folding the log from the start.
 */
export function reduceRun(state: RunState, event: EntourageEvent): RunState {
  state.lastSeq = event.seq;
  state.updatedAt = event.time;
  const agent = event.agentId ? state.agents.find((a) => a.agentId === event.agentId) : undefined;
  switch (event.type) {
    case "run.created": {
      const d = event.data;
      Object.assign(state, {
        task: d.task,
        repo: d.repo,
        workspace: d.workspace,
        mode: d.mode,
        model: d.model,
        sandbox: d.sandbox,
        createdAt: event.time,
      });
      if (d.eval) state.eval = d.eval;
      break;
    }
    case "run.status":
      if (isTerminal(state.status) && !isTerminal(event.data.status)) {
        // Reopened (a run that failed because its model was unreachable, resumed on another): the old ending goes.
        state.finishedAt = undefined;
        state.summary = undefined;
        state.error = undefined;
      }
      state.status = event.data.status;
      break;
    case "run.routed":
      state.route = event.data;
      break;
    case "model.changed":
      state.model = event.data.to;
      break;
    case "verification.ended":
      state.verification = {
        status: event.data.status,
        reason: event.data.reason,
        command: event.data.command,
        exitCode: event.data.exitCode,
      };
      break;
    case "run.finished":
      state.status = event.data.status;
      state.summary = event.data.summary;
      state.finishedAt = event.time;
      if (event.data.error) state.error = event.data.error;
      state.activeAgentId = undefined;
      break;
    case "run.paused":
      state.status = "paused";
      break;
    case "run.resumed":
      state.status = "running";
      break;
    case "agent.started":
      state.agents.push({
        agentId: event.agentId ?? `agent@${event.seq}`,
        name: event.data.name,
        parentAgentId: event.data.parentAgentId,
        task: event.data.task,
        model: event.data.model,
        status: "running",
        steps: 0,
        usage: zeroUsage(),
        costUsd: 0,
      });
      state.activeAgentId = event.agentId;
      break;
    case "agent.step.started":
      state.steps += 1;
      if (agent) agent.steps = event.data.step;
      break;
    case "llm.response":
      addUsage(state.usage, event.data.usage);
      if (event.data.costUsd === undefined) state.costKnown = false;
      else state.costUsd += event.data.costUsd;
      if (agent) {
        addUsage(agent.usage, event.data.usage);
        agent.costUsd += event.data.costUsd ?? 0;
      }
      break;
    case "agent.finished":
      if (agent) {
        agent.status = "finished";
        agent.report = event.data.report;
      }
      if (state.activeAgentId === event.agentId) state.activeAgentId = agent?.parentAgentId;
      break;
    case "tool.call.requested":
      state.toolCalls += 1;
      state.pendingToolCalls.push({
        callId: event.data.callId,
        name: event.data.name,
        args: event.data.args,
        agentId: event.agentId,
        seq: event.seq,
        started: false,
      });
      break;
    case "tool.call.started": {
      const call = state.pendingToolCalls.find((c) => c.callId === event.data.callId);
      if (call) call.started = true;
      break;
    }
    case "tool.call.ended":
      state.pendingToolCalls = state.pendingToolCalls.filter((c) => c.callId !== event.data.callId);
      break;
    case "run.attached":
      state.pendingApprovals = [];
      break;
    case "approval.requested": {
      const d = event.data;
      state.pendingApprovals = state.pendingApprovals.filter((a) => a.approvalId !== d.approvalId);
      state.pendingApprovals.push({
        approvalId: d.approvalId,
        agentId: event.agentId ?? "",
        tool: d.tool,
        args: d.args,
        risk: d.risk,
        reason: d.reason,
        since: event.time,
      });
      break;
    }
    case "approval.resolved":
      state.pendingApprovals = state.pendingApprovals.filter((a) => a.approvalId !== event.data.approvalId);
      break;
    case "checkpoint.created":
      state.checkpoints.push({
        seq: event.seq,
        ref: event.data.ref,
        label: event.data.label,
        filesChanged: event.data.filesChanged,
      });
      break;
    default:
      break;
  }
  return state;
}

/** Folds a whole log. */
export function foldRun(runId: string, events: Iterable<EntourageEvent>): RunState {
  const state = emptyRunState(runId);
  for (const e of events) reduceRun(state, e);
  return state;
}

/** True for the statuses a run never leaves. */
export function isTerminal(status: RunStatus): boolean {
  return (FINAL_RUN_STATUSES as readonly RunStatus[]).includes(status);
}

/**
 * A run that failed because its model failed (unreachable, rejected the key, …): unlike other endings it
 * may be resumed, on the same model once it is back or on another.
 */
export function failedOnModel(state: Pick<RunState, "status" | "error">): boolean {
  return state.status === "failed" && state.error?.code.startsWith("model_") === true;
}

/**
 * The data of a run's `run.created` event, which starts every run's log. `hint` says how to list runs
 * (CLI or API); a log without it is an unknown run.
 */
export function createdData(
  runId: string,
  events: readonly EntourageEvent[],
  hint = "entourage runs",
): EventData<"run.created"> {
  const created =
    events[0]?.type === "run.created" ? events[0] : events.find((e) => e.type === "run.created");
  if (created?.type !== "run.created") {
    throw new UserError("run_not_found", `No run with id ${runId}. List runs with: ${hint}`);
  }
  return created.data;
}
