import {
  type EventData,
  effectiveEvents,
  foldRun,
  type NewEvent,
  newId,
  UserError,
} from "../../core/index.ts";
import { createRun } from "../../orchestrator/index.ts";
import { Workspace } from "../../workspace/index.ts";
import { openStore, runDir } from "../compose.ts";
import { reportError } from "../main.ts";
import { resumeCommand } from "./resume.ts";
import { checkpointAt } from "./rewind.ts";

/** Events that belong to the old run's process and ending, not to the history a fork continues from. */
const NOT_COPIED = new Set([
  "run.created",
  "run.attached",
  "run.status",
  "run.finished",
  "run.forked",
  "diff.ready",
  "diff.applied",
]);

/**
 * `entourage fork <run> --at <seq> ["guidance"]`: a new run whose history is the old run's up to event
 * `seq` and whose workspace is the old run's checkpoint at that point, byte for byte. The guidance, if
 * any, reaches the next agent that takes a step. The old run is left as it was (it only records that it
 * was forked). Then the new run is driven like `resume`.
 */
export async function forkCommand(
  runId: string,
  guidance: string | undefined,
  opts: { at: number; yes?: boolean; json?: boolean },
): Promise<number> {
  let newRunId: string;
  try {
    const store = await openStore();
    try {
      const events = await store.read(runId);
      const created = events.find((e) => e.type === "run.created");
      if (created?.type !== "run.created")
        throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
      const last = events.at(-1)!.seq;
      if (opts.at < 0 || opts.at > last) {
        throw new UserError(
          "seq_out_of_range",
          `Run ${runId} has events 0 to ${last}; --at ${opts.at} is outside that range.`,
        );
      }
      const state = foldRun(runId, events);
      const oldWorkspace = await Workspace.open(state.workspace);
      const target = checkpointAt(events, opts.at, oldWorkspace.baseRef);
      newRunId = newId("run");
      const dirs = runDir(newRunId);
      await oldWorkspace.cloneAt(target.ref, dirs.workspace);

      const data: EventData<"run.created"> = {
        ...created.data,
        workspace: dirs.workspace,
        forkedFrom: { runId, seq: opts.at },
      };
      await createRun(store, newRunId, data);
      const history: NewEvent[] = effectiveEvents(events)
        .filter((e) => e.seq <= opts.at && !NOT_COPIED.has(e.type))
        .map((e) => ({ type: e.type, data: e.data, agentId: e.agentId, parentId: e.parentId }) as NewEvent);
      const tail: NewEvent[] = [
        {
          type: "run.status",
          data: { status: "paused", reason: `forked from ${runId} at event ${opts.at} (${target.label})` },
        },
      ];
      if (guidance?.trim()) {
        tail.push({
          type: "intervention.received",
          data: { interventionId: newId("int"), message: guidance.trim(), interrupt: false, by: "cli" },
        });
      }
      await store.append(newRunId, [...history, ...tail]);
      await store.append(runId, [
        { type: "run.forked", data: { newRunId, atSeq: opts.at, guidance: guidance?.trim() || undefined } },
      ]);
      if (!opts.json) {
        process.stdout.write(
          `Forked ${runId} at event ${opts.at} into ${newRunId} (workspace at ${target.label}).\n`,
        );
      }
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
  return resumeCommand(newRunId, { yes: opts.yes, json: opts.json });
}
