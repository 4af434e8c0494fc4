/**
 * `entourage eval`'s engine: each task is checked out at its base commit, its FAIL_TO_PASS tests are seen
 * to fail there, a run is started on it exactly as `entourage run` starts one (same composition, same store:
 * `entourage show` and the dashboard list it), and once the run ends the judge tests its change on a fresh
 * checkout. At most `concurrency` tasks are in flight at once.
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import {
  AbortedError,
  EntourageError,
  errorMessage,
  foldRun,
  newId,
  type RunState,
  UserError,
} from "../../core/index.ts";
import type { EventStore } from "../../store/index.ts";
import type { RunOptions } from "../commands/run-flags.ts";
import { createSandbox, home, runDir } from "../compose.ts";
import { createRunControl, driveParts } from "../drive.ts";
import { logNewRun, type PreparedRun, partsOf, prepareRun } from "../launcher.ts";
import { unattendedApprover } from "../terminal/live.ts";
import { checkoutTask } from "./checkout.ts";
import { checkBaseline, type JudgeEnvironment, judgeRun, type TestGroup } from "./judge.ts";
import type { EvalTask } from "./task-file.ts";

/**
 * How a task came out. `resolved`/`unresolved` are the judge's verdicts; `invalid`: a FAIL_TO_PASS test
 * already passes before any change, so the task cannot tell a fix from none (no run is started);
 * `error`: the harness could not run or judge it; `interrupted`: stopped by a signal; `skipped`: never started.
 */
export type TaskVerdict = "resolved" | "unresolved" | "invalid" | "error" | "interrupted" | "skipped";

export interface TaskResult {
  instanceId: string;
  verdict: TaskVerdict;
  reason: string;
  runId?: string;
  /** How the run itself ended (its own verdict, not the judge's). */
  runStatus?: string;
  mode?: string;
  model?: string;
  sandbox?: string;
  baseCommit?: string;
  baseline?: TestGroup;
  failToPass?: TestGroup;
  passToPass?: TestGroup;
  changedFiles?: string[];
  steps: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  costKnown: boolean;
  /** The run, created to finished. */
  runMs?: number;
  /** The whole task: checkout, baseline, run and judge. */
  wallMs: number;
  startedAt: number;
}

export type EvalProgress = (line: string) => void;

export interface EvalOptions {
  evalId: string;
  tasks: EvalTask[];
  /** What every task's run is started with (the flags of `entourage eval`): they win over a task's own mode and model. */
  run: RunOptions;
  concurrency: number;
  store: EventStore;
  signal: AbortSignal;
  progress: EvalProgress;
}

/** Where an eval keeps its checkouts and results: ENTOURAGE_HOME/evals/<id>. */
export function evalDir(evalId: string): string {
  return path.join(home(), "evals", evalId);
}

export function newEvalId(): string {
  return newId("eval");
}

/**
 * Runs every task, at most `concurrency` at once, and resolves with their results in file order. A task's
 * failure is its result; a refusal that is the user's to fix (no model configured, no sandbox) stops the
 * whole eval, since every task would meet it: it is thrown once the tasks in flight have ended.
 */
export async function runTasks(options: EvalOptions): Promise<TaskResult[]> {
  const results: TaskResult[] = options.tasks.map((t) => ({
    ...empty(t.instanceId, Date.now()),
    verdict: "skipped",
    reason: "not started",
  }));
  let next = 0;
  let stop: unknown;
  const worker = async () => {
    while (next < options.tasks.length && stop === undefined && !options.signal.aborted) {
      const index = next++;
      const task = options.tasks[index]!;
      results[index] = await runTask(task, index, options).catch((error: unknown) => {
        if (refusals.has(error as object)) stop ??= error;
        return failed(task, error);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.tasks.length) }, worker));
  if (stop !== undefined) throw stop;
  return results;
}

/** Refusals of `prepareRun` that are the user's to fix (no model, no sandbox): every task would meet them. */
const refusals = new WeakSet<object>();

function empty(instanceId: string, startedAt: number): Omit<TaskResult, "verdict" | "reason"> {
  return {
    instanceId,
    steps: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    costKnown: true,
    wallMs: 0,
    startedAt,
  };
}

function failed(task: EvalTask, error: unknown): TaskResult {
  const aborted = AbortedError.isInstance(error);
  const code = EntourageError.isInstance(error) && error.name !== "AbortedError" ? ` (${error.code})` : "";
  return {
    ...empty(task.instanceId, Date.now()),
    verdict: aborted ? "interrupted" : "error",
    reason: `${errorMessage(error)}${code}`,
  };
}

async function runTask(task: EvalTask, index: number, options: EvalOptions): Promise<TaskResult> {
  const started = Date.now();
  const say = (text: string) =>
    options.progress(`[${index + 1}/${options.tasks.length}] ${task.instanceId}: ${text}`);
  const dir = path.join(evalDir(options.evalId), `${index + 1}-${safeName(task.instanceId)}`);
  const repo = path.join(dir, "repo");
  const base = await checkoutTask(task, repo);
  const prepared = await prepareRun({
    ...options.run,
    task: task.problemStatement,
    repo,
    model: options.run.model ?? task.model,
    mode: options.run.mode ?? task.mode,
    setupCommand: task.setupCommand ?? options.run.setupCommand,
    // Nobody is at the terminal of an eval, and a benchmark's repositories are not the user's own code.
    yes: true,
    withoutRepoSettings: true,
  }).catch((error: unknown) => {
    if (UserError.isInstance(error)) refusals.add(error);
    throw error;
  });
  const judgeTask = { ...task, setupCommand: task.setupCommand ?? options.run.setupCommand };
  const env: JudgeEnvironment = {
    sandboxFor: (d) => createSandbox(prepared.sandboxName, d, prepared.sandboxOptions),
    setupSandboxFor:
      options.run.setupNetwork === "on"
        ? (d) => createSandbox(prepared.sandboxName, d, { ...prepared.sandboxOptions, network: "on" })
        : undefined,
    signal: options.signal,
  };
  const facts = {
    ...empty(task.instanceId, started),
    mode: prepared.created.mode,
    model: `${prepared.model.provider}:${prepared.model.id}`,
    sandbox: prepared.sandboxName,
    baseCommit: base,
  };
  const baseline = await checkBaseline(judgeTask, repo, base, path.join(dir, "baseline"), env).catch(
    async (error: unknown) => {
      await discard(prepared);
      throw error;
    },
  );
  await rm(path.join(dir, "baseline"), { recursive: true, force: true });
  if (baseline.passed > 0) {
    await discard(prepared);
    const passing = baseline.tests.filter((t) => t.passed).map((t) => t.id);
    say(`invalid: ${passing.join(", ")} already pass at ${base.slice(0, 12)}`);
    return {
      ...facts,
      verdict: "invalid",
      reason: `FAIL_TO_PASS ${passing.join(", ")} already pass${passing.length === 1 ? "es" : ""} before any change: the task cannot tell a fix from none (check base_commit, test_patch and test_command)`,
      baseline,
      wallMs: Date.now() - started,
    };
  }
  prepared.created.eval = { id: options.evalId, instanceId: task.instanceId };
  say(`run ${prepared.runId} started (${facts.mode}, ${facts.model}, sandbox ${facts.sandbox})`);
  let state: RunState | undefined;
  try {
    state = await drive(options.store, prepared, options.signal);
    if (state.status === "paused")
      throw new AbortedError(`stopped; continue the run with: entourage resume ${prepared.runId}`);
    const judgement = await judgeRun(
      judgeTask,
      { runId: prepared.runId, workspaceDir: prepared.workspace.dir },
      repo,
      base,
      path.join(dir, "judge"),
      { ...env, journals: path.join(evalDir(options.evalId), "applies") },
    );
    await rm(path.join(dir, "judge"), { recursive: true, force: true });
    const verdict = judgement.resolved ? "resolved" : "unresolved";
    say(
      `${verdict} ${judgement.resolved ? "✓" : "✗"} (FAIL_TO_PASS ${judgement.failToPass.passed}/${judgement.failToPass.total}, PASS_TO_PASS ${judgement.passToPass.passed}/${judgement.passToPass.total}; the run ${state.status})`,
    );
    return {
      ...facts,
      ...usageOf(state),
      verdict,
      reason: judgement.reason,
      baseline,
      failToPass: judgement.failToPass,
      passToPass: judgement.passToPass,
      changedFiles: judgement.changedFiles,
      wallMs: Date.now() - started,
    };
  } catch (error) {
    // What the run used up to where it stopped, from its log.
    state ??= foldRun(prepared.runId, await options.store.read(prepared.runId));
    say(`${AbortedError.isInstance(error) ? "stopped" : "error"}: ${errorMessage(error)}`);
    const result = {
      ...facts,
      ...usageOf(state),
      ...failed(task, error),
      baseline,
      wallMs: Date.now() - started,
    };
    if (state.status === "paused") result.reason += `; the run is paused: entourage resume ${state.runId}`;
    return result;
  }
}

/** The run's own account: how it ended, its steps, tokens, cost and time. */
function usageOf(state: RunState) {
  return {
    runId: state.runId,
    runStatus: state.status,
    steps: state.steps,
    inputTokens: state.usage.inputTokens,
    outputTokens: state.usage.outputTokens,
    costUsd: state.costUsd,
    costKnown: state.costKnown,
    runMs: (state.finishedAt ?? state.updatedAt) - state.createdAt,
  };
}

/** Logs the run and drives it to its end, as `entourage run --yes --no-server` does, without a view. */
async function drive(store: EventStore, prepared: PreparedRun, signal: AbortSignal): Promise<RunState> {
  const lease = await logNewRun(store, prepared, "entourage eval");
  const parts = await partsOf(prepared, lease).catch(async (error: unknown) => {
    await lease.release();
    throw error;
  });
  const control = createRunControl(prepared.runId, parts, unattendedApprover(true));
  return driveParts(prepared.runId, parts, control, signal);
}

/** A prepared run that is not started after all: its workspace copy and the project's servers go. */
async function discard(prepared: PreparedRun): Promise<void> {
  await prepared.project?.close();
  await rm(runDir(prepared.runId).root, { recursive: true, force: true });
}

/** An instance id as a folder name (SWE-bench's are like `astropy__astropy-12907`). */
function safeName(id: string): string {
  return id
    .replace(/[^\w.-]/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, 120);
}

/** Creates the eval's folder. */
export async function makeEvalDir(evalId: string): Promise<string> {
  const dir = evalDir(evalId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}
