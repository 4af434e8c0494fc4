/**
 * Runs through the queue of a team deployment (PostgreSQL): `entourage serve` composes a run and enqueues
 * it; `entourage worker`, on any machine, takes it and drives it exactly as `resume` does, with its own
 * sandboxes. A run whose worker died is found by the other workers' sweep (its lease went stale) and
 * queued again, so it goes on from its log with resume's guarantees: no tool call run twice, nothing lost.
 */
import {
  type EntourageEvent,
  type EventData,
  errorMessage,
  failedOnModel,
  foldRun,
  isTerminal,
  UserError,
} from "../core/index.ts";
import type { EventStore } from "../store/index.ts";
import { leaseIsStale, liveDriver } from "../store/index.ts";
import type { DriveJob, RunQueue } from "../store/queue.ts";
import { createRunControl, driveParts, type ServerLauncher } from "./drive.ts";
import { logNewRun, prepareRun } from "./launcher.ts";
import { prepareResume } from "./resume-run.ts";

const WAITING: EventData<"run.status"> = { status: "queued", reason: "waiting for a worker" };

/** The server's launcher on a queue: it composes and logs runs, and workers drive them. */
export function createQueueLauncher(deps: {
  store: EventStore;
  queue: RunQueue;
  log: (message: string) => void;
}): ServerLauncher {
  return {
    async start(input) {
      const prepared = await prepareRun({ ...input, yes: false, queued: true });
      const lease = await logNewRun(deps.store, prepared, "entourage serve");
      try {
        await lease.store.append(prepared.runId, [{ type: "run.status", data: WAITING }]);
      } finally {
        // The worker sets the project's tools (MCP servers, plugins) up again where it drives the run.
        await prepared.project?.close();
        await lease.release();
      }
      await deps.queue.enqueue({ runId: prepared.runId });
      deps.log(`run ${prepared.runId} queued: ${input.task.slice(0, 80)}`);
      return prepared.runId;
    },
    async continue(runId, model) {
      await deps.store.append(runId, [{ type: "run.status", data: WAITING }]);
      await deps.queue.enqueue({ runId, model });
      deps.log(`run ${runId} queued to continue`);
    },
    // Nothing is driven here.
    async shutdown() {},
  };
}

/** The run was started without the repository's settings that need trust: the worker keeps it so. */
function leftOutRepoSettings(events: readonly EntourageEvent[]): boolean {
  return events.some((e) => e.type === "extension.failed" && e.data.kind === "settings");
}

/**
 * One job: drives the run from where its log stops, unless it has ended or a live process drives it
 * (a duplicate job, or a run someone resumed by hand). On the worker's shutdown the run goes back to the
 * queue; a run this worker cannot compose (a model it has no key for, a repository it does not trust) is
 * left paused with the reason, for a person to see and resume.
 */
export async function driveQueuedRun(
  store: EventStore,
  job: DriveJob,
  options: {
    label: string;
    signal: AbortSignal;
    queue: RunQueue;
    log: (message: string) => void;
  },
): Promise<void> {
  const { runId } = job;
  const events = await store.read(runId);
  if (events.length === 0) return options.log(`run ${runId}: no such run; job dropped`);
  const before = foldRun(runId, events);
  if (isTerminal(before.status) && !failedOnModel(before)) return;
  if (await liveDriver(store, runId)) return;
  let resumed: Awaited<ReturnType<typeof prepareResume>>;
  try {
    resumed = await prepareResume(
      store,
      runId,
      { ...job.model, withoutRepoSettings: leftOutRepoSettings(events) || undefined },
      options.label,
    );
  } catch (error) {
    if (!UserError.isInstance(error)) throw error;
    if (error.code === "run_live" || error.code === "run_finished") return;
    await store.append(runId, [
      {
        type: "run.status",
        data: { status: "paused", reason: `${options.label} could not drive it: ${error.message}` },
      },
    ]);
    return options.log(`run ${runId} left paused: ${errorMessage(error)}`);
  }
  const { parts } = resumed;
  const control = createRunControl(runId, parts, undefined);
  control.hasRemoteClients = true;
  options.log(`run ${runId} driving`);
  try {
    const state = await driveParts(runId, parts, control, options.signal);
    options.log(`run ${runId} ${state.status}`);
  } catch (error) {
    if (options.signal.aborted) {
      // This worker is stopping: the run waits in the queue for another (the engine left it resumable).
      await store.append(runId, [
        { type: "run.status", data: { status: "queued", reason: "its worker stopped; waiting for another" } },
      ]);
      await options.queue.enqueue({ runId });
      return options.log(`run ${runId} back in the queue`);
    }
    if (UserError.isInstance(error) && error.code === "lease_lost") return options.log(errorMessage(error));
    throw error;
  }
}

/**
 * Queues again every run whose driver is gone: one in a driven status (queued, running, waiting for an
 * approval) with no live lease. Every worker sweeps; the queue keeps one waiting job per run.
 */
export async function requeueOrphans(store: EventStore, queue: RunQueue): Promise<string[]> {
  const now = Date.now();
  const orphans: string[] = [];
  for (const run of await store.listRuns({ status: ["queued", "running", "waiting"], limit: 10_000 })) {
    if (run.driver && !leaseIsStale(run.driver, now)) continue;
    await queue.enqueue({ runId: run.runId });
    orphans.push(run.runId);
  }
  return orphans;
}
