import type { ApprovalMode, OrchestrationMode, SandboxBackendName } from "../../core/index.ts";
import { parseRuleFlag } from "../../core/index.ts";
import type { RunRequest } from "../launcher.ts";

export interface RunFlags {
  repo: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  sandbox?: SandboxBackendName;
  image?: string;
  approval?: ApprovalMode;
  mode?: OrchestrationMode;
  testCommand?: string;
  /** false with --no-verify. */
  verify?: boolean;
  setup?: string;
  setupNetwork?: boolean;
  maxSteps?: number;
  workspaceQuota?: number;
  maxProcesses?: number;
  maxTokens?: number;
  maxCost?: number;
  allow?: string[];
  ask?: string[];
  deny?: string[];
  yes?: boolean;
  withoutRepoSettings?: boolean;
  json?: boolean;
  /** false with --no-server: no HTTP API while the run is live. */
  server?: boolean;
}

/** A run request but for its task and repository: what the flags of `run`, `acp` and `eval` ask of every run. */
export type RunOptions = Omit<RunRequest, "task" | "repo" | "askTrust" | "queued">;

/** What the run flags ask of a run (shared by `run`, `acp` and `eval`, so a flag means the same in each). */
export function runOptionsOf(flags: Omit<RunFlags, "repo" | "json" | "server">): RunOptions {
  return {
    provider: flags.provider,
    model: flags.model,
    baseUrl: flags.baseUrl,
    sandbox: flags.sandbox,
    image: flags.image,
    approval: flags.approval,
    mode: flags.mode,
    testCommand: flags.testCommand,
    verify: flags.verify === false ? false : undefined,
    setupCommand: flags.setup,
    setupNetwork: flags.setupNetwork ? "on" : undefined,
    maxSteps: flags.maxSteps,
    workspaceQuotaMb: flags.workspaceQuota,
    maxProcesses: flags.maxProcesses,
    maxTokens: flags.maxTokens,
    maxCostUsd: flags.maxCost,
    rules: flagRules(flags),
    yes: flags.yes,
    withoutRepoSettings: flags.withoutRepoSettings,
  };
}

/** Approval rules from --allow/--ask/--deny, in the order the flags were given per kind. */
function flagRules(flags: Pick<RunFlags, "allow" | "ask" | "deny">): RunRequest["rules"] {
  const rules = [
    ...(flags.allow ?? []).map((r) => parseRuleFlag(r, "allow")),
    ...(flags.ask ?? []).map((r) => parseRuleFlag(r, "ask")),
    ...(flags.deny ?? []).map((r) => parseRuleFlag(r, "deny")),
  ];
  return rules.length > 0 ? rules : undefined;
}
