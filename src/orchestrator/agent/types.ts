/** What an agent's loop is given and what it ends with: shared by the loop and its tool-call handling. */
import type {
  AgentReport,
  ApprovalMode,
  ApprovalRule,
  Clock,
  EventData,
  IdGenerator,
} from "../../core/index.ts";
import type { Model } from "../../llm/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import type { ToolDefinition } from "../../tools/index.ts";
import type { Workspace } from "../../workspace/index.ts";
import type { Approver } from "../control/approval.ts";
import type { RunControl } from "../control/run-control.ts";
import type { RunEmitter } from "../emitter.ts";

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
