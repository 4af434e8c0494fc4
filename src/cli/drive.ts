import { join } from "node:path";
import { loadProjectTrust, recordTrust, saveProjectRule } from "../config/index.ts";
import { errorMessage, isTerminal, newId, type RunState, systemClock } from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import { proposeLessons } from "../memory/index.ts";
import { type Approver, driveRun, followSteering, RunControl } from "../orchestrator/index.ts";
import { madeSandbox } from "../sandbox/index.ts";
import type { Launcher } from "../server/deps.ts";
import type { EventStore } from "../store/index.ts";
import { exportRunTrace, runEndOtlpConfig } from "../telemetry/index.ts";
import { builtinTools } from "../tools/builtin/index.ts";
import { home, runDir } from "./compose.ts";
import { type DriveParts, logNewRun, partsOf, prepareRun } from "./launcher.ts";
import { prepareResume } from "./resume-run.ts";

/**
 * The live handle of a run: approvals wait here for the first answer (`localApprover`, the API, or the
 * configured timeout); "always allow" rules are saved to the project's .entourage/config.json.
 */
export function createRunControl(
  runId: string,
  parts: Pick<DriveParts, "approval" | "repo">,
  localApprover: Approver | undefined,
): RunControl {
  return new RunControl(runId, {
    ids: newId,
    localApprover,
    approvalTimeoutMs: parts.approval.approvalTimeoutSeconds
      ? parts.approval.approvalTimeoutSeconds * 1000
      : undefined,
    timeoutDecision: parts.approval.approvalTimeoutDecision,
    saveRule: async (rule) => {
      // The user's own answer: a file that loaded in full before keeps loading in full (an allow rule
      // would otherwise make the changed file wait for trust).
      const before = loadProjectTrust({ home: home(), repo: parts.repo, env: {} });
      saveProjectRule(parts.repo, rule);
      if (before && (before.trusted || before.items.length === 0))
        recordTrust(home(), loadProjectTrust({ home: home(), repo: parts.repo, env: {} })!);
    },
  });
}

/**
 * Drives a run to its end or to an interruption (`signal`: the run is left paused and resumable), and
 * always releases its sandbox. Resolves with the folded final state.
 */
export async function driveParts(
  runId: string,
  parts: DriveParts,
  control: RunControl,
  signal: AbortSignal,
): Promise<RunState> {
  try {
    return await driveHolding(parts.lease.store, runId, parts, control, signal);
  } catch (error) {
    // Another process took the run over (this one went silent past the lease's TTL): say so, not "aborted".
    if (parts.lease.lost.aborted) throw parts.lease.lost.reason;
    throw error;
  } finally {
    await parts.lease.release();
  }
}

async function driveHolding(
  store: EventStore,
  runId: string,
  parts: DriveParts,
  control: RunControl,
  signal: AbortSignal,
): Promise<RunState> {
  // The sandbox may still be being made (`startSandbox`): the run starts meanwhile, the first command and
  // the first file written wait for it, and a sandbox that cannot be made stops the run with its error.
  const made = madeSandbox(parts.sandbox);
  const unmade = new AbortController();
  made.catch((error: unknown) => unmade.abort(error));
  parts.workspace
    .lendTo(made.then((sandbox) => sandbox.runAs))
    .catch((error: unknown) => unmade.abort(error));
  // People's acts sent to other processes (a server, a worker's server) reach this run through its log.
  const stopFollowing = followSteering(store, control);
  let returned: Promise<void> | undefined;
  const giveBack = () => (returned ??= parts.sandbox.destroy().then(() => parts.workspace.lendTo(undefined)));
  let state: RunState;
  try {
    state = await driveRun(
      {
        store,
        model: parts.model,
        sandbox: parts.sandbox,
        workspace: parts.workspace,
        tools: parts.project?.tools ?? builtinTools,
        modelFor: parts.project?.modelFor,
        approval: {
          mode: parts.approvalMode,
          approver: control.approver,
          rules: parts.approval.approvalRules,
        },
        ids: newId,
        clock: systemClock,
        signal: AbortSignal.any([signal, parts.lease.lost, unmade.signal]),
        control,
        tookOverFrom: parts.lease.tookOverFrom?.holder,
        sandboxFor: parts.sandboxFor,
        setupSandbox: parts.setupSandbox,
        agentsDir: join(runDir(runId).root, "agents"),
      },
      runId,
      { maxFixRounds: parts.maxFixRounds },
    );
  } catch (error) {
    await parts.project?.close();
    await giveBack();
    if (unmade.signal.aborted) throw unmade.signal.reason;
    throw error;
  } finally {
    stopFollowing();
  }
  // The sandbox goes (its processes killed, its folder removed, the workspace given back) while the lessons
  // are proposed and the trace sent: neither needs it.
  const back = giveBack();
  try {
    await proposeLessonsAfterRun(store, runId, state, parts.model, signal);
    // After the lessons, so plugins' listeners see them too; then MCP servers stop.
    await parts.project?.close();
    await exportTraceAfterRun(store, runId, state);
  } finally {
    await back;
  }
  return state;
}

/**
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, a run that ended is sent as a trace. Here,
 * because every driver ends a run through this function: `run`, `resume`, `demo`, the server's launcher and
 * the workers. The outcome is one line on stderr, never an event: the log records the run, and a
 * delivery to a collector is not part of it (writing it would also change the next export of the same
 * log). A failure never fails the run; `entourage export --otlp <run>` sends the same trace again.
 */
async function exportTraceAfterRun(store: EventStore, runId: string, state: RunState): Promise<void> {
  if (!isTerminal(state.status)) return;
  const retry = `retry: entourage export --otlp ${runId}`;
  try {
    const config = runEndOtlpConfig(process.env);
    if (!config) return;
    const result = await exportRunTrace(await store.read(runId), config);
    const rejected = result.rejectedSpans
      ? `; the receiver dropped ${result.rejectedSpans}${result.rejectedMessage ? `: ${result.rejectedMessage}` : ""}`
      : "";
    process.stderr.write(
      `entourage: trace ${result.traceId} (${result.spans} spans) sent to ${result.url}${rejected}\n`,
    );
  } catch (error) {
    process.stderr.write(
      `entourage: the trace of run ${runId} was not exported (${errorMessage(error)}); the run is not affected; ${retry}\n`,
    );
  }
}

/**
 * Lessons from the person's corrections, drafted by the run's model once the run has ended. They stay
 * pending until someone decides (the CLI's prompt, `entourage memory review`, the API); a failure here
 * never fails the run, and `memory review` drafts whatever was missed.
 */
async function proposeLessonsAfterRun(
  store: EventStore,
  runId: string,
  state: RunState,
  model: Model,
  signal: AbortSignal,
): Promise<void> {
  if (!isTerminal(state.status)) return;
  await proposeLessons(store, runId, model, { signal }).catch((error: unknown) => {
    process.stderr.write(
      `entourage: lessons from this run's corrections were not drafted (${errorMessage(error)}); later: entourage memory review ${runId}\n`,
    );
  });
}

/** The server's launcher, plus `shutdown` for the process that owns it. */
export interface ServerLauncher extends Launcher {
  /** Interrupts every run it drives (each is left paused and resumable) and waits for them to stop. */
  shutdown(): Promise<void>;
}

/**
 * Starts and continues runs inside the server's process. Nothing answers approvals but the API (and the
 * configured timeout): a run waits for a person rather than failing.
 */
export function createLauncher(deps: {
  store: EventStore;
  runs: Map<string, RunControl>;
  log?: (message: string) => void;
}): ServerLauncher {
  const log = deps.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const driving = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const starting = new Set<string>();

  const launch = (runId: string, parts: DriveParts): void => {
    const control = createRunControl(runId, parts, undefined);
    control.hasRemoteClients = true;
    deps.runs.set(runId, control);
    const abort = new AbortController();
    const done = driveParts(runId, parts, control, abort.signal)
      .then(
        (state) => log(`run ${runId} ${state.status}`),
        (error: unknown) => {
          if (!abort.signal.aborted) log(`run ${runId} stopped: ${errorMessage(error)}`);
        },
      )
      .finally(() => {
        deps.runs.delete(runId);
        driving.delete(runId);
      });
    driving.set(runId, { abort, done });
  };

  return {
    async start(input) {
      const prepared = await prepareRun({ ...input, yes: false });
      const lease = await logNewRun(deps.store, prepared, "entourage serve");
      const parts = await partsOf(prepared, lease).catch(async (error: unknown) => {
        await lease.release();
        throw error;
      });
      launch(prepared.runId, parts);
      log(`run ${prepared.runId} started: ${input.task.slice(0, 80)}`);
      return prepared.runId;
    },
    async continue(runId, model) {
      if (deps.runs.has(runId) || starting.has(runId)) return;
      starting.add(runId);
      try {
        const { parts } = await prepareResume(deps.store, runId, { ...model }, "entourage serve");
        launch(runId, parts);
        log(`run ${runId} continued`);
      } finally {
        starting.delete(runId);
      }
    },
    async shutdown() {
      for (const { abort } of driving.values()) abort.abort(new Error("server shutting down"));
      await Promise.all([...driving.values()].map((d) => d.done));
    },
  };
}
