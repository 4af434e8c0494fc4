import { globMatch } from "../../core/glob.ts";
import type { Risk } from "../../tools/index.ts";

export type ApprovalMode = "auto" | "ask-risky" | "ask-all" | "plan";

export interface ApprovalRequest {
  approvalId: string;
  agentId: string;
  tool: string;
  args: unknown;
  risk: Risk;
  reason: string;
}

export interface ApprovalDecision {
  decision: "approve" | "deny" | "edit";
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

/**
 * One rule of the approval policy: which calls it matches and what to do with them. Rules are ordered
 * and the last match wins, so a project file can override a user file and a flag can override both.
 */
export interface ApprovalRule {
  /** Tool name or glob (`run_command`, `*`, `github.*`). */
  tool: string;
  /** Glob over the call's main argument (command, path, pattern); absent: any. */
  match?: string;
  /** Only calls of this risk class; absent: any. */
  risk?: Risk;
  action: "allow" | "ask" | "deny";
}

export interface ApprovalPolicy {
  mode: ApprovalMode;
  rules: readonly ApprovalRule[];
  /** True once the run's plan is approved (mode `plan` is read-only before that). */
  planApproved?: () => boolean;
}

const RISKY: ReadonlySet<Risk> = new Set(["execute", "network", "destructive"]);

/** The argument a rule's `match` looks at: the command, else the path, else the pattern. */
export function mainArgument(args: unknown): string {
  const a = (args ?? {}) as Record<string, unknown>;
  for (const key of ["command", "path", "pattern", "url"])
    if (typeof a[key] === "string") return a[key] as string;
  return JSON.stringify(args ?? {});
}

export function ruleMatches(rule: ApprovalRule, call: { tool: string; risk: Risk; args: unknown }): boolean {
  if (!globMatch(rule.tool, call.tool)) return false;
  if (rule.risk && rule.risk !== call.risk) return false;
  if (rule.match !== undefined && !globMatch(rule.match, mainArgument(call.args))) return false;
  return true;
}

/** Formats a rule the way people write it: `run_command "npm test*" → allow`. */
export function describeRule(rule: ApprovalRule): string {
  const match = rule.match !== undefined ? ` "${rule.match}"` : "";
  const risk = rule.risk ? ` [${rule.risk}]` : "";
  return `${rule.tool}${match}${risk} → ${rule.action}`;
}

/** Parses `tool[:pattern]` from a flag (`--allow 'run_command:npm test*'`) into a rule. */
export function parseRuleFlag(text: string, action: ApprovalRule["action"]): ApprovalRule {
  const i = text.indexOf(":");
  return i < 0 ? { tool: text, action } : { tool: text.slice(0, i), match: text.slice(i + 1), action };
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
      return RISKY.has(risk) ? `approval mode ask-risky: ${risk} calls are asked` : undefined;
  }
}

/** An approver for `--yes`: approves everything, and says so in the log. */
export const approveAll: Approver = async () => ({ decision: "approve", by: "--yes" });
