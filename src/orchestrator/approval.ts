import type { Risk } from "../tools/index.ts";

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
}

/** Answers approval requests: the terminal prompt, `--yes`, the API. The first answer wins. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalDecision>;

const RISKY: ReadonlySet<Risk> = new Set(["execute", "network", "destructive"]);

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
        : `approval mode plan: the run is read-only until the plan is approved`;
    default:
      return RISKY.has(risk) ? `approval mode ask-risky: ${risk} calls are asked` : undefined;
  }
}

/** An approver for `--yes`: approves everything, and says so in the log. */
export const approveAll: Approver = async () => ({ decision: "approve", by: "--yes" });
