/**
 * Approval rules as data, and the pure functions every client shares: the engine's policy matches
 * them, and the terminal prompt, the API route and the dashboard card derive and show the "always
 * allow" rule with the same functions, so what a person sees is what is saved. No Node built-ins: the
 * dashboard imports this file.
 */
import { globMatch } from "./glob.ts";
import type { Risk, RuleAction } from "./vocabulary.ts";

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
  action: RuleAction;
}

/**
 * The `tool` of the plan checkpoint's approval request. It is not a tool call: each plan is decided on
 * its own, so it can never be always allowed.
 */
export const PLAN_APPROVAL_TOOL = "plan";

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

/**
 * The "always allow" rule for an approval request: its tool, matching its main argument (or `match`,
 * when the person widened the pattern, e.g. `npm test*`). Undefined for the plan checkpoint, which
 * cannot be always allowed.
 */
export function alwaysAllowRule(
  request: { tool: string; args: unknown },
  match: string = mainArgument(request.args),
): (ApprovalRule & { action: "allow" }) | undefined {
  if (request.tool === PLAN_APPROVAL_TOOL) return undefined;
  return { tool: request.tool, match, action: "allow" };
}

/** Parses `tool[:pattern]` from a flag (`--allow 'run_command:npm test*'`) into a rule. */
export function parseRuleFlag(text: string, action: RuleAction): ApprovalRule {
  const i = text.indexOf(":");
  return i < 0 ? { tool: text, action } : { tool: text.slice(0, i), match: text.slice(i + 1), action };
}
