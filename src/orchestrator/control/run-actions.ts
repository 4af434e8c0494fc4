/**
 * What people do to a run from outside its loop — rewind, fork, diff, apply — as functions over the log
 * and the run's workspace. The CLI commands and the HTTP API both call these, so the two never disagree.
 * Every function throws `UserError`s whose codes the API maps to HTTP statuses (run_not_found → 404,
 * run_live / run_active / checkout_changed / already_applied → 409, seq_out_of_range → 400).
 */
import {
  createdData,
  type EntourageEvent,
  type EventData,
  effectiveEvents,
  foldRun,
  type IdGenerator,
  isTerminal,
  type NewEvent,
  type RunState,
  UserError,
} from "../../core/index.ts";
import { type EventStore, holdLease } from "../../store/index.ts";
import type { ChangeSummary, Progress } from "../../workspace/index.ts";
import { abortApply, applyPlan, Workspace } from "../../workspace/index.ts";
import { RunEmitter } from "../emitter.ts";
import { createRun } from "../run-engine.ts";
import { changesNeedingReview, describeReview, type ReviewItem } from "./apply-review.ts";

/** The checkpoint in force at `seq`: the last one created at or before it, else the baseline. */
export function checkpointAt(
  events: readonly EntourageEvent[],
  seq: number,
  baseRef: string,
): { ref: string; seq?: number; label: string } {
  let found: { ref: string; seq?: number; label: string } = {
    ref: baseRef,
    label: "baseline (before any change)",
  };
  for (const e of events) {
    if (e.seq > seq) break;
    if (e.type === "checkpoint.created") found = { ref: e.data.ref, seq: e.seq, label: e.data.label };
    if (e.type === "workspace.restored")
      found = { ref: e.data.ref, seq: e.seq, label: `restored: ${e.data.reason}` };
  }
  return found;
}

async function readRun(store: EventStore, runId: string): Promise<EntourageEvent[]> {
  const events = await store.read(runId);
  if (events.length === 0)
    throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
  return events;
}

function checkSeq(runId: string, events: readonly EntourageEvent[], seq: number, flag: string): void {
  const last = events.at(-1)!.seq;
  if (seq < 0 || seq > last) {
    throw new UserError(
      "seq_out_of_range",
      `Run ${runId} has events 0 to ${last}; ${flag} ${seq} is outside that range.`,
    );
  }
}

/**
 * Puts a run's workspace and its agents' context back to how they were at event `to` (its last checkpoint
 * at or before it). The log keeps everything; the run is left paused, ready to resume. Refused while a
 * process drives the run. Never touches the user's checkout.
 */
export async function rewindRun(
  store: EventStore,
  runId: string,
  to: number,
): Promise<{ ref: string; label: string }> {
  checkSeq(runId, await readRun(store, runId), to, "--to");
  // Held while rewinding: a run another process drives is refused, and nobody starts driving it meanwhile.
  const lease = await holdLease(store, runId, "entourage rewind", "rewound");
  try {
    const events = await store.read(runId);
    const state = foldRun(runId, events);
    const workspace = await Workspace.open(state.workspace);
    const target = checkpointAt(events, to, workspace.baseRef);
    await workspace.restore(target.ref);
    const emitter = new RunEmitter(lease.store, runId);
    await emitter.emit({
      type: "workspace.restored",
      data: { ref: target.ref, toSeq: to, reason: `rewound by the user to event ${to}` },
    });
    await emitter.emit({
      type: "run.status",
      data: { status: "paused", reason: `rewound to event ${to}; continue with: entourage resume ${runId}` },
    });
    await emitter.flush();
    return { ref: target.ref, label: target.label };
  } finally {
    await lease.release();
  }
}

/**
 * Reopens a finished run (succeeded, failed or cancelled) with a follow-up request: logs `run.reopened` and
 * leaves the run paused, ready to be driven again (like a resume), which runs the follow-up phase
 * (modes/follow-up.ts) and ends the run once more. Refused while the run is not finished or another process
 * holds it.
 */
export async function reopenRun(
  store: EventStore,
  runId: string,
  followUp: { request: string; by: string },
): Promise<void> {
  await readRun(store, runId);
  if (followUp.request.trim() === "")
    throw new UserError("empty_task", "The follow-up request is empty: say what to do next.");
  const lease = await holdLease(store, runId, "entourage reopen", "reopened");
  try {
    const state = foldRun(runId, await store.read(runId));
    if (!isTerminal(state.status)) {
      throw new UserError(
        "run_active",
        `Run ${runId} is ${state.status}, not finished: send the request to it as a message instead.`,
      );
    }
    await lease.store.append(runId, [
      { type: "run.reopened", data: { request: followUp.request, by: followUp.by } },
      {
        type: "run.status",
        data: { status: "paused", reason: `reopened by ${followUp.by} with a follow-up request` },
      },
    ]);
  } finally {
    await lease.release();
  }
}

/** Events that belong to the old run's process and ending, not to the history a fork continues from. */
const NOT_COPIED = new Set([
  "run.created",
  "run.attached",
  "run.status",
  "run.finished",
  "run.forked",
  "diff.ready",
  "diff.applied",
  // Logged by each process that drives the run (MCP servers and plugins are set up again).
  "extension.loaded",
  "extension.failed",
  // Lessons proposed from the old run's corrections belong to the old run.
  "lesson.proposed",
  "lesson.skipped",
  "lesson.decided",
  "lesson.saved",
  // Deliveries of people's acts to the old run's driver.
  "steer.requested",
  "steer.handled",
]);

/**
 * A new run whose history is the old run's up to event `at` and whose workspace is the old run's
 * checkpoint at that point, byte for byte. The guidance, if any, reaches the next agent that takes a
 * step. The old run only records that it was forked. The new run is left paused: drive it like a resume.
 */
export async function forkRun(
  store: EventStore,
  runId: string,
  options: {
    at: number;
    guidance?: string;
    by: string;
    ids: IdGenerator;
    /** Where the new run's workspace goes. */
    workspaceDir: (newRunId: string) => string;
  },
): Promise<{ newRunId: string; label: string }> {
  const events = await readRun(store, runId);
  const created = createdData(runId, events);
  checkSeq(runId, events, options.at, "--at");
  const state = foldRun(runId, events);
  const oldWorkspace = await Workspace.open(state.workspace);
  const target = checkpointAt(events, options.at, oldWorkspace.baseRef);
  const newRunId = options.ids("run");
  const dir = options.workspaceDir(newRunId);
  await oldWorkspace.cloneAt(target.ref, dir);

  const data: EventData<"run.created"> = {
    ...created,
    workspace: dir,
    forkedFrom: { runId, seq: options.at },
  };
  await createRun(store, newRunId, data);
  const history: NewEvent[] = effectiveEvents(events)
    .filter((e) => e.seq <= options.at && !NOT_COPIED.has(e.type))
    .map((e) => ({ type: e.type, data: e.data, agentId: e.agentId, parentId: e.parentId }) as NewEvent);
  const guidance = options.guidance?.trim() || undefined;
  const tail: NewEvent[] = [
    {
      type: "run.status",
      data: { status: "paused", reason: `forked from ${runId} at event ${options.at} (${target.label})` },
    },
  ];
  if (guidance) {
    tail.push({
      type: "intervention.received",
      data: { interventionId: options.ids("int"), message: guidance, interrupt: false, by: options.by },
    });
  }
  await store.append(newRunId, [...history, ...tail]);
  await store.append(runId, [{ type: "run.forked", data: { newRunId, atSeq: options.at, guidance } }]);
  return { newRunId, label: target.label };
}

/** A past run's workspace, opened from its log. */
export async function openRunWorkspace(
  store: EventStore,
  runId: string,
): Promise<{ workspace: Workspace; state: RunState }> {
  const state = foldRun(runId, await readRun(store, runId));
  return { workspace: await Workspace.open(state.workspace), state };
}

/** The change a run made: baseline → its latest checkpoint, as a unified diff and a summary. */
export async function runDiff(store: EventStore, runId: string): Promise<ChangeSummary & { diff: string }> {
  const { workspace } = await openRunWorkspace(store, runId);
  const [diff, changes] = await Promise.all([workspace.diff(), workspace.changes()]);
  return { ...changes, diff };
}

export interface ApplyRunOptions {
  /** Where apply journals live (ENTOURAGE_HOME/applies). */
  journals: string;
  /** Apply the changes that need review without asking (`--accept-risky`, `acceptRisky: true`). */
  acceptRisky?: boolean;
  /** Asks a person whether to apply the changes that need review; absent when nobody can answer. */
  confirm?: (items: ReviewItem[]) => Promise<boolean>;
  onProgress?: Progress;
}

export interface ApplyRunResult {
  files: string[];
  target: string;
  state: RunState;
  /** The applied paths that needed review (accepted by flag or by the person). */
  review: ReviewItem[];
  /** Set when this finished an interrupted apply of the run (started then). */
  resumed?: { startedAt: string };
}

/**
 * Writes the run's change into the user's checkout, refusing (and writing nothing) if a file it would
 * change was modified there since the run started, or while the run is still going. Changes that need a
 * person's eyes (apply-review.ts) are applied only when accepted. An interrupted apply of this run is
 * finished; one of another run into the same checkout must be finished or undone first.
 */
export async function applyRun(
  store: EventStore,
  runId: string,
  options: ApplyRunOptions,
): Promise<ApplyRunResult> {
  const { workspace, state } = await openRunWorkspace(store, runId);
  if (state.status === "running" || state.status === "waiting" || state.status === "queued") {
    throw new UserError(
      "run_active",
      `Run ${runId} is still ${state.status}. Wait for it to finish (or stop it) before applying.`,
    );
  }
  const plan = await workspace.planApply(state.repo);
  let review: ReviewItem[] = [];
  const outcome = await applyPlan(plan, {
    journals: options.journals,
    runId,
    headRef: plan.headRef,
    onProgress: options.onProgress,
    beforeWrite: async (changes, readBlobs) => {
      review = await changesNeedingReview(changes, readBlobs);
      if (review.length === 0 || options.acceptRisky) return;
      if (options.confirm && (await options.confirm(review))) return;
      throw new UserError(
        options.confirm ? "apply_declined" : "apply_needs_review",
        `${options.confirm ? "Nothing was applied" : `Nothing was applied to ${plan.target}`}: ${review.length} change(s) of run ${runId} need your review first ` +
          `(they change how Entourage behaves, run code without being asked, or reach outside the repository):\n` +
          `${describeReview(review)}\n` +
          `Look at them with \`entourage diff ${runId}\`; apply anyway with \`entourage apply ${runId} --accept-risky\` ` +
          `(API: POST /runs/${runId}/apply with {"acceptRisky": true}).`,
      );
    },
  }).catch(async (error: unknown) => {
    throw await explainIfApplied(error, runId, store);
  });
  if (outcome.files.length > 0) {
    const emitter = new RunEmitter(store, runId);
    await emitter.emit({
      type: "diff.applied",
      data: { target: plan.target, files: outcome.files, headRef: plan.headRef },
    });
    await emitter.flush();
  }
  return { files: outcome.files, target: plan.target, state, review, resumed: outcome.resumed };
}

/**
 * Undoes an interrupted apply of the run: every path goes back to exactly what it held before. Refused
 * when none is pending (a finished apply is the user's to undo, with git).
 */
export async function abortApplyRun(
  store: EventStore,
  runId: string,
  options: Pick<ApplyRunOptions, "journals">,
): Promise<{ files: string[]; target: string; startedAt: string }> {
  const { workspace, state } = await openRunWorkspace(store, runId);
  const { target } = await workspace.planApply(state.repo);
  return { ...(await abortApply(target, { journals: options.journals, runId })), target };
}

/** Says when this very run was applied, when the checkout holds its version already. */
async function explainIfApplied(error: unknown, runId: string, store: EventStore): Promise<unknown> {
  if (!UserError.isInstance(error) || error.code !== "already_applied") return error;
  const applied = (await store.read(runId)).findLast((e) => e.type === "diff.applied");
  const when = applied ? ` at ${new Date(applied.time).toISOString()}` : "";
  return new UserError("already_applied", `Run ${runId} was already applied${when}. ${error.message}`, {
    cause: error,
  });
}
