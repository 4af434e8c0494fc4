import { rewindRun } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { type ModelFlags, makeModel, openStore } from "../compose.ts";
import { currentModel, modelTarget, recordModelChange, refOf } from "../launcher.ts";
import { reportError } from "../main.ts";

/**
 * `entourage rewind <run> --to <seq>`: puts the run's workspace and its agents' context back to how they
 * were at event `seq` (its last checkpoint at or before it). The log keeps everything; the run is left
 * paused, and `entourage resume` continues from there. Never touches the user's checkout.
 */
export async function rewindCommand(runId: string, opts: { to: number } & ModelFlags): Promise<number> {
  try {
    const store = await openStore();
    try {
      // The model is checked before anything is rewound: a wrong flag changes nothing.
      const switchTo = await modelSwitch(store, runId, opts);
      const target = await rewindRun(store, runId, opts.to);
      if (switchTo) await recordModelChange(store, runId, await store.read(runId), switchTo, "rewind");
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

/** The model given with the flags (or the ENTOURAGE_* environment), built to check it; undefined: none given. */
async function modelSwitch(store: EventStore, runId: string, flags: ModelFlags) {
  const events = await store.read(runId);
  if (events.length === 0) return undefined; // rewindRun says the run does not exist
  const recorded = currentModel(events);
  const target = modelTarget(recorded, flags);
  if (target === recorded) return undefined;
  const model = await makeModel(target, { idleTimeoutMs: 60_000, maxRetries: 0 });
  return refOf(model, target.baseUrl);
}
