import {
  type ApprovalDecisionKind,
  type ApprovalMode,
  type ApprovalRule,
  describeRule,
  RISKY,
  type Risk,
  ruleMatches,
} from "../../core/index.ts";

export interface ApprovalRequest {
  approvalId: string;
  agentId: string;
  /** The tool call this approval gates (absent for checkpoints such as the plan). */
  callId?: string;
  tool: string;
  args: unknown;
  risk: Risk;
  reason: string;
}

export interface ApprovalDecision {
  decision: ApprovalDecisionKind;
  /** Who answered: cli, api, dashboard, --yes, rule, timeout. */
  by: string;
  /** For a denial: told to the model. */
  reason?: string;
  /** For an edit: the arguments to run instead. */
  editedArgs?: unknown;
  /** "Always allow this": the rule to save (shown to the person before it is saved). */
  rule?: ApprovalRule;
}

/** Answers approval requests: the terminal prompt, `--yes`, the API. The first answer wins. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalDecision>;

export interface ApprovalPolicy {
  mode: ApprovalMode;
  rules: readonly ApprovalRule[];
  /** True once the run's plan is approved (mode `plan` is read-only before that). */
  planApproved?: () => boolean;
}

export type PolicyVerdict = { action: "allow" } | { action: "ask" | "deny"; reason: string };

/**
 * The policy's verdict on one call: the mode gives the default, then the rules (last match wins). In
 * `plan` mode nothing but reads runs until the plan is approved, whatever the rules say.
 */
export function decide(
  policy: ApprovalPolicy,
  call: { tool: string; risk: Risk; args: unknown },
): PolicyVerdict {
  if (policy.mode === "plan" && call.risk !== "read" && !(policy.planApproved?.() ?? false)) {
    return { action: "deny", reason: "approval mode plan: the run is read-only until the plan is approved" };
  }
  let verdict: PolicyVerdict = { action: "allow" };
  const reason = approvalReason(policy.mode === "plan" ? "ask-risky" : policy.mode, call.risk);
  if (reason) verdict = { action: "ask", reason };
  const rule = policy.rules.findLast((r) => ruleMatches(r, call));
  if (rule) {
    verdict =
      rule.action === "allow"
        ? { action: "allow" }
        : { action: rule.action, reason: `rule ${describeRule(rule)}` };
  }
  return verdict;
}

/** Why a call with this risk needs a person's answer under `mode`, or undefined when it may run. */
export function approvalReason(mode: ApprovalMode, risk: Risk): string | undefined {
  switch (mode) {
    case "auto":
      return undefined;
    case "ask-all":
      return risk === "read" ? undefined : `approval mode ask-all: every ${risk} call is asked`;
    case "plan":
      return risk === "read"
        ? undefined
        : "approval mode plan: the run is read-only until the plan is approved";
    default:
      return RISKY.includes(risk) ? `approval mode ask-risky: ${risk} calls are asked` : undefined;
  }
}

/** An approver for `--yes`: approves everything, and says so in the log. */
export const approveAll: Approver = async () => ({ decision: "approve", by: "--yes" });
