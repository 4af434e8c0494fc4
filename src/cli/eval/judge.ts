/**
 * The judge of an eval task. Truth comes from the world, not from the model: the run's final change is
 * applied to a fresh checkout at base_commit (with the task's test patch over it), and the task's tests run
 * there, in a sandbox of the run's backend. Resolved only when every FAIL_TO_PASS test passes and every
 * PASS_TO_PASS test still does. What the model reported, and how its own run ended, count for nothing here.
 */
import { AbortedError, SystemError } from "../../core/index.ts";
import type { ExecResult, Sandbox } from "../../sandbox/index.ts";
import { Workspace } from "../../workspace/index.ts";
import { applyTestPatch, freshCheckout } from "./checkout.ts";
import type { EvalTask } from "./task-file.ts";
import { expandTestCommand } from "./test-template.ts";

/** Output kept per failing command: the end, where test runners print what failed. */
const OUTPUT_TAIL = 3000;

export interface TestOutcome {
  id: string;
  passed: boolean;
  exitCode: number;
  timedOut?: boolean;
}

/** One list of tests (FAIL_TO_PASS or PASS_TO_PASS) as run on one checkout. */
export interface TestGroup {
  /** Tests that passed, counted one by one. */
  passed: number;
  total: number;
  /** The whole list passed in one command: what "all pass" means for the verdict. */
  allPassed: boolean;
  tests: TestOutcome[];
  /** The command that ran the whole list. */
  command?: string;
  /** The end of the output of the list's command when it failed. */
  output?: string;
  /** Set when the list failed together but each test passed alone (order-dependent tests). */
  note?: string;
}

export interface Judgement {
  resolved: boolean;
  /** Why, in one line. */
  reason: string;
  failToPass: TestGroup;
  passToPass: TestGroup;
  /** Files the run's change wrote into the judge's checkout. */
  changedFiles: string[];
}

export interface JudgeEnvironment {
  /** A sandbox of the run's backend, with the run's limits, on `dir`. */
  sandboxFor: (dir: string) => Promise<Sandbox>;
  /** The setup command's sandbox when it needs the network the run's sandboxes lack. */
  setupSandboxFor?: (dir: string) => Promise<Sandbox>;
  signal: AbortSignal;
}

/**
 * Runs FAIL_TO_PASS on a fresh checkout at `base` (test patch applied) before any change: every one of them
 * must fail there, or the task cannot tell a fix from no fix. Returns the group; the caller decides.
 */
export async function checkBaseline(
  task: EvalTask,
  source: string,
  base: string,
  dir: string,
  env: JudgeEnvironment,
): Promise<TestGroup> {
  await freshCheckout(source, base, dir);
  if (task.testPatch) await applyPatchOrThrow(task, dir, base);
  return withSandbox(task, dir, env, (sandbox) =>
    runGroup(sandbox, task.testCommand, task.failToPass, env.signal),
  );
}

/** Applies the change of the run whose workspace is `workspaceDir` to a fresh checkout and tests it. */
export async function judgeRun(
  task: EvalTask,
  run: { runId: string; workspaceDir: string },
  source: string,
  base: string,
  dir: string,
  env: JudgeEnvironment & { journals: string },
): Promise<Judgement> {
  await freshCheckout(source, base, dir);
  const workspace = await Workspace.open(run.workspaceDir);
  const changedFiles = await workspace.applyTo(dir, { journals: env.journals, runId: run.runId });
  if (task.testPatch) {
    try {
      await applyTestPatch(dir, base, task.testPatch);
    } catch (error) {
      const none: TestGroup = { passed: 0, total: 0, allPassed: false, tests: [] };
      return {
        resolved: false,
        reason: `the test patch does not apply over the run's change: ${(error as Error).message}`,
        failToPass: { ...none, total: task.failToPass.length },
        passToPass: { ...none, total: task.passToPass.length },
        changedFiles,
      };
    }
  }
  return withSandbox(task, dir, env, async (sandbox) => {
    const failToPass = await runGroup(sandbox, task.testCommand, task.failToPass, env.signal);
    const passToPass = await runGroup(sandbox, task.testCommand, task.passToPass, env.signal);
    const resolved = failToPass.allPassed && passToPass.allPassed;
    const reason = resolved
      ? "every FAIL_TO_PASS test passes and every PASS_TO_PASS test still does"
      : [
          failToPass.allPassed ? "" : `FAIL_TO_PASS ${failToPass.passed}/${failToPass.total} pass`,
          passToPass.allPassed ? "" : `PASS_TO_PASS ${passToPass.passed}/${passToPass.total} still pass`,
          changedFiles.length === 0 ? "the run changed nothing" : "",
        ]
          .filter(Boolean)
          .join("; ");
    return { resolved, reason, failToPass, passToPass, changedFiles };
  });
}

async function applyPatchOrThrow(task: EvalTask, dir: string, base: string): Promise<void> {
  try {
    await applyTestPatch(dir, base, task.testPatch!);
  } catch (error) {
    throw new SystemError(
      "test_patch_invalid",
      `${task.where}: test_patch does not apply at base_commit: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Runs `use` in a sandbox on `dir`, after the task's setup command; always destroys the sandbox. */
async function withSandbox<T>(
  task: EvalTask,
  dir: string,
  env: JudgeEnvironment,
  use: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  if (task.setupCommand) {
    const setup = await (env.setupSandboxFor ?? env.sandboxFor)(dir);
    try {
      const result = await setup.exec(["sh", "-c", task.setupCommand], { signal: env.signal });
      if (result.exitCode !== 0)
        throw new SystemError(
          "setup_failed",
          `${task.where}: the setup command "${task.setupCommand}" failed in the judge's checkout (exit ${result.exitCode}): ${tail(result.output)}`,
        );
    } finally {
      await setup.destroy();
    }
  }
  const sandbox = await env.sandboxFor(dir);
  try {
    return await use(sandbox);
  } finally {
    await sandbox.destroy();
  }
}

/**
 * Runs a list of tests: all in one command first; when that fails, each one alone, so the counts say which
 * tests fail. The list passes only when the one command does.
 */
export async function runGroup(
  sandbox: Sandbox,
  template: string,
  ids: readonly string[],
  signal: AbortSignal,
): Promise<TestGroup> {
  if (ids.length === 0) return { passed: 0, total: 0, allPassed: true, tests: [] };
  const command = expandTestCommand(template, ids);
  const together = await run(sandbox, command, signal);
  if (together.exitCode === 0) {
    return {
      passed: ids.length,
      total: ids.length,
      allPassed: true,
      tests: ids.map((id) => ({ id, passed: true, exitCode: 0 })),
      command,
    };
  }
  const tests =
    ids.length === 1
      ? [outcome(ids[0]!, together)]
      : await sequential(ids, async (id) =>
          outcome(id, await run(sandbox, expandTestCommand(template, [id]), signal)),
        );
  const passed = tests.filter((t) => t.passed).length;
  return {
    passed,
    total: ids.length,
    allPassed: false,
    tests,
    command,
    output: tail(together.output),
    ...(passed === ids.length
      ? { note: "each test passes alone, but not all of them together (order-dependent tests)" }
      : {}),
  };
}

function outcome(id: string, result: ExecResult): TestOutcome {
  return {
    id,
    passed: result.exitCode === 0,
    exitCode: result.exitCode,
    ...(result.timedOut ? { timedOut: true } : {}),
  };
}

async function run(sandbox: Sandbox, command: string, signal: AbortSignal): Promise<ExecResult> {
  const result = await sandbox.exec(["sh", "-c", command], { signal });
  if (signal.aborted) throw new AbortedError("stopped while the tests ran", { cause: signal.reason });
  return result;
}

async function sequential<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

function tail(output: string): string {
  return output.length <= OUTPUT_TAIL ? output : `[…]${output.slice(-OUTPUT_TAIL)}`;
}
