/**
 * The project's vocabulary: every closed list of names written once, as a const array with its type
 * derived. Zod enums (`z.enum(RISKS)`), CLI choices, the API schemas and the dashboard read these arrays,
 * so adding a name is one edit and every reader follows (or fails to typecheck where it must decide).
 * Plain data, no imports: the CLI's entry point and the dashboard load it at no cost.
 */

/** How dangerous a tool call is; the approval policy decides per class. */
export const RISKS = ["read", "write", "execute", "network", "destructive"] as const;
export type Risk = (typeof RISKS)[number];

/** The risk classes the default mode, `ask-risky`, asks a person about. */
export const RISKY: readonly Risk[] = ["execute", "network", "destructive"];

/**
 * When a person is asked before a tool call runs: never, for risky calls (the default), for every call
 * that is not a read, or read-only until the plan is approved.
 */
export const APPROVAL_MODES = ["auto", "ask-risky", "ask-all", "plan"] as const;
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

/** What an approval rule does with the calls it matches. */
export const RULE_ACTIONS = ["allow", "ask", "deny"] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/** A person's answer to an approval request. */
export const APPROVAL_DECISIONS = ["approve", "deny", "edit"] as const;
export type ApprovalDecisionKind = (typeof APPROVAL_DECISIONS)[number];

/** The sandbox backends, in the order the CLI and the docs list them. */
export const SANDBOX_BACKENDS = ["bwrap", "docker", "gvisor", "subprocess"] as const;
export type SandboxBackendName = (typeof SANDBOX_BACKENDS)[number];

/** How the agents work together on a run. */
export const ORCHESTRATION_MODES = ["pipeline", "dynamic", "single"] as const;
export type OrchestrationMode = (typeof ORCHESTRATION_MODES)[number];

/** A run's lifecycle, as `run.status` records it. */
export const RUN_STATUSES = [
  "queued",
  "running",
  "waiting",
  "paused",
  "succeeded",
  "failed",
  "cancelled",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a run ends in (`run.finished`); nothing drives it any more. */
export const FINAL_RUN_STATUSES = [
  "succeeded",
  "failed",
  "cancelled",
] as const satisfies readonly RunStatus[];
export type FinalRunStatus = (typeof FINAL_RUN_STATUSES)[number];

/** The outcome an agent reports with `finish`. */
export const REPORT_STATUSES = ["done", "partial", "blocked", "failed"] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

/**
 * The protocol step a tool stands for, rather than an act: `finish` ends the agent with its report,
 * `plan` proposes the plan for the checkpoint. The agent loop reads this off the tool, never its name.
 */
export const PROTOCOL_ROLES = ["finish", "plan"] as const;
export type ProtocolRole = (typeof PROTOCOL_ROLES)[number];
