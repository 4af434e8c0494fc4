import { hostname } from "node:os";
import { type EntourageEvent, foldRun, type RunState, UserError } from "../../core/index.ts";
import { RunEmitter } from "../../orchestrator/index.ts";
import { Workspace } from "../../workspace/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../main.ts";

/** The process driving a run right now, if it is alive on this host; undefined when nobody drives it. */
export function liveDriver(events: readonly EntourageEvent[], state: RunState): number | undefined {
  if (state.status !== "running" && state.status !== "waiting") return undefined;
  const attached = events.findLast((e) => e.type === "run.attached");
  if (attached?.type !== "run.attached" || (attached.data.host && attached.data.host !== hostname()))
    return undefined;
  try {
    process.kill(attached.data.pid, 0);
    return attached.data.pid;
  } catch {
    return undefined;
  }
}

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

/**
 * `entourage rewind <run> --to <seq>`: puts the run's workspace and its agents' context back to how they
 * were at event `seq` (its last checkpoint at or before it). The log keeps everything; the run is left
 * paused, and `entourage resume` continues from there. Never touches the user's checkout.
 */
export async function rewindCommand(runId: string, opts: { to: number }): Promise<number> {
  try {
    const store = await openStore();
    try {
      const events = await store.read(runId);
      if (events.length === 0)
        throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
      const state = foldRun(runId, events);
      const last = events.at(-1)!.seq;
      if (opts.to < 0 || opts.to > last) {
        throw new UserError(
          "seq_out_of_range",
          `Run ${runId} has events 0 to ${last}; --to ${opts.to} is outside that range.`,
        );
      }
      const pid = liveDriver(events, state);
      if (pid !== undefined) {
        throw new UserError(
          "run_live",
          `Run ${runId} is being run by process ${pid}. Stop it first (Ctrl-C there), then rewind.`,
        );
      }
      const workspace = await Workspace.open(state.workspace);
      const target = checkpointAt(events, opts.to, workspace.baseRef);
      await workspace.restore(target.ref);
      const emitter = new RunEmitter(store, runId);
      await emitter.emit({
        type: "workspace.restored",
        data: { ref: target.ref, toSeq: opts.to, reason: `rewound by the user to event ${opts.to}` },
      });
      await emitter.emit({
        type: "run.status",
        data: {
          status: "paused",
          reason: `rewound to event ${opts.to}; continue with: entourage resume ${runId}`,
        },
      });
      await emitter.flush();
      process.stdout.write(
        `Rewound ${runId} to event ${opts.to}: workspace at ${target.label} (${target.ref.slice(0, 8)}).\nContinue with: entourage resume ${runId}\n`,
      );
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}
