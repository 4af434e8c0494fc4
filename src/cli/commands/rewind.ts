import { rewindRun } from "../../orchestrator/index.ts";
import { type ModelFlags, openStore } from "../compose.ts";
import { planModelSwitch } from "../model-switch.ts";
import { reportError } from "../terminal/exit.ts";

/**
 * `entourage rewind <run> --to <seq>`: puts the run's workspace and its agents' context back to how they
 * were at event `seq` (its last checkpoint at or before it). The log keeps everything; the run is left
 * paused, and `entourage resume` continues from there. Never touches the user's checkout.
 */
export async function rewindCommand(runId: string, opts: { to: number } & ModelFlags): Promise<number> {
  try {
    const store = await openStore();
    try {
      // The model is built before anything is rewound: a wrong flag changes nothing.
      const events = await store.read(runId);
      const next =
        events.length > 0
          ? await planModelSwitch(runId, events, opts, { idleTimeoutMs: 60_000, maxRetries: 0 })
          : undefined;
      const target = await rewindRun(store, runId, opts.to);
      await next?.record(store, "rewind");
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
