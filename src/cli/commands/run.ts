import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Config, loadConfig, saveProjectRule } from "../../config/index.ts";
import { AbortedError, type EventData, newId, systemClock, UserError } from "../../core/index.ts";
import type { Model } from "../../llm/index.ts";
import {
  type ApprovalMode,
  createRun,
  driveRun,
  parseRuleFlag,
  RunControl,
} from "../../orchestrator/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import type { EventStore } from "../../store/index.ts";
import { builtinTools } from "../../tools/builtin/index.ts";
import { detectTestCommand, Workspace } from "../../workspace/index.ts";
import { chooseSandbox, createSandbox, home, makeModel, openStore, runDir } from "../compose.ts";
import { abortOnSignals, attachView, exitCodeOf, terminalApprover } from "../live.ts";
import { EXIT, reportError } from "../main.ts";

export interface RunFlags {
  repo: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  sandbox?: "bwrap" | "docker" | "subprocess";
  approval?: ApprovalMode;
  mode?: "pipeline" | "single" | "dynamic";
  testCommand?: string;
  maxSteps?: number;
  maxTokens?: number;
  maxCost?: number;
  allow?: string[];
  ask?: string[];
  deny?: string[];
  yes?: boolean;
  json?: boolean;
}

/** `entourage run`: copy the repo, run the agent live, leave the change ready to diff and apply. */
export async function runCommand(task: string, flags: RunFlags): Promise<number> {
  try {
    if (task.trim() === "")
      throw new UserError(
        "empty_task",
        'The task is empty: say what to do, e.g. entourage run "Fix the failing test"',
      );
    const repo = resolve(flags.repo);
    if (!existsSync(repo) || !statSync(repo).isDirectory()) {
      throw new UserError(
        "repo_not_found",
        `The repository ${repo} does not exist or is not a directory (--repo).`,
      );
    }
    const config = loadConfig({
      home: home(),
      repo,
      flags: {
        provider: flags.provider,
        model: flags.model,
        baseUrl: flags.baseUrl,
        sandbox: flags.sandbox,
        approval: flags.approval,
        mode: flags.mode,
        testCommand: flags.testCommand,
        maxSteps: flags.maxSteps,
        maxTokens: flags.maxTokens,
        maxCostUsd: flags.maxCost,
        approvalRules: flagRules(flags),
      },
    });
    const model = await makeModel(
      { provider: config.provider, model: config.model, baseUrl: config.baseUrl },
      { idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000, maxRetries: config.maxRetries },
    );
    const sandboxChoice = await chooseSandbox(config.sandbox, config.network);
    const runId = newId("run");
    const dirs = runDir(runId);
    const workspace = await Workspace.create({ repo, dir: dirs.workspace });
    return await startRun({
      runId,
      model,
      workspace,
      sandboxName: sandboxChoice.name,
      created: {
        task,
        repo,
        workspace: dirs.workspace,
        mode: config.mode,
        testCommand: config.testCommand
          ? { command: config.testCommand, source: "configured" }
          : await detectTestCommand(repo),
        model: {
          provider: model.provider,
          model: model.id,
          baseUrl: config.baseUrl,
          scripted: model.scripted || undefined,
        },
        sandbox: sandboxChoice.ref,
        budget: { maxSteps: config.maxSteps, maxTokens: config.maxTokens, maxCostUsd: config.maxCostUsd },
        approval: flags.yes ? "auto (--yes)" : config.approval,
      },
      approvalMode: flags.yes ? "auto" : config.approval,
      maxFixRounds: config.maxFixRounds,
      approval: config,
      yes: flags.yes ?? false,
      json: flags.json ?? false,
      sandboxOptions: {
        network: config.network,
        timeoutMs: config.commandTimeoutSeconds * 1000,
        env: config.sandboxEnv,
      },
    });
  } catch (error) {
    return reportError(error);
  }
}

export interface StartRunOptions {
  runId: string;
  model: Model;
  workspace: Workspace;
  sandboxName: "bwrap" | "docker" | "subprocess";
  sandboxOptions: { network: "off" | "on"; timeoutMs: number; env: Record<string, string> };
  created: EventData<"run.created">;
  approvalMode: ApprovalMode;
  approval: Pick<Config, "approvalRules" | "approvalTimeoutSeconds" | "approvalTimeoutDecision">;
  maxFixRounds: number;
  yes: boolean;
  json: boolean;
}

/** Logs `run.created` and drives the run with a live view. Shared by `run` and `demo`. */
export async function startRun(options: StartRunOptions): Promise<number> {
  const store = await openStore();
  try {
    const detach = attachView(store, options.runId, options.json);
    await createRun(store, options.runId, options.created);
    return await drive(store, options.runId, {
      model: options.model,
      workspace: options.workspace,
      sandbox: await createSandbox(options.sandboxName, options.workspace.dir, options.sandboxOptions),
      approvalMode: options.approvalMode,
      approval: options.approval,
      repo: options.created.repo,
      maxFixRounds: options.maxFixRounds,
      sandboxFor: (dir) => createSandbox(options.sandboxName, dir, options.sandboxOptions),
      yes: options.yes,
      detach,
    });
  } finally {
    await store.close();
  }
}

/** Drives a run (new or resumed) to its end or to an interruption; returns the exit code. */
export async function drive(
  store: EventStore,
  runId: string,
  parts: {
    model: Model;
    workspace: Workspace;
    sandbox: Sandbox;
    approvalMode: ApprovalMode;
    approval: Pick<Config, "approvalRules" | "approvalTimeoutSeconds" | "approvalTimeoutDecision">;
    repo: string;
    maxFixRounds: number;
    yes: boolean;
    detach: () => void;
    /** Dynamic mode: a sandbox like the run's own, for a parallel agent's workspace copy. */
    sandboxFor: (workspaceDir: string) => Promise<Sandbox>;
  },
): Promise<number> {
  const signals = abortOnSignals();
  const control = new RunControl(runId, {
    ids: newId,
    localApprover: terminalApprover(parts.yes),
    approvalTimeoutMs: parts.approval.approvalTimeoutSeconds
      ? parts.approval.approvalTimeoutSeconds * 1000
      : undefined,
    timeoutDecision: parts.approval.approvalTimeoutDecision,
    saveRule: async (rule) => {
      saveProjectRule(parts.repo, rule);
    },
  });
  parts.workspace.lendTo(parts.sandbox.runAs);
  try {
    const state = await driveRun(
      {
        store,
        model: parts.model,
        sandbox: parts.sandbox,
        workspace: parts.workspace,
        tools: builtinTools,
        approval: {
          mode: parts.approvalMode,
          approver: control.approver,
          rules: parts.approval.approvalRules,
        },
        ids: newId,
        clock: systemClock,
        signal: signals.signal,
        control,
        sandboxFor: parts.sandboxFor,
        agentsDir: join(runDir(runId).root, "agents"),
      },
      runId,
      { maxFixRounds: parts.maxFixRounds },
    );
    parts.detach();
    return exitCodeOf(state);
  } catch (error) {
    parts.detach();
    if (AbortedError.isInstance(error) || signals.received())
      return signals.received() === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
    throw error;
  } finally {
    signals.dispose();
    await parts.sandbox.destroy();
    parts.workspace.lendTo(undefined);
  }
}

/** Approval rules from --allow/--ask/--deny, in the order the flags were given per kind. */
function flagRules(flags: RunFlags): Config["approvalRules"] | undefined {
  const rules = [
    ...(flags.allow ?? []).map((r) => parseRuleFlag(r, "allow")),
    ...(flags.ask ?? []).map((r) => parseRuleFlag(r, "ask")),
    ...(flags.deny ?? []).map((r) => parseRuleFlag(r, "deny")),
  ];
  return rules.length > 0 ? rules : undefined;
}
