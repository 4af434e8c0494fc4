import { newId } from "../../core/index.ts";
import { forkRun } from "../../orchestrator/index.ts";
import { type ModelFlags, openStore, runDir } from "../compose.ts";
import { reportError } from "../terminal/exit.ts";
import { resumeCommand } from "./resume.ts";

/**
 * `entourage fork <run> --at <seq> ["guidance"]`: a new run whose history is the old run's up to event
 * `seq` and whose workspace is the old run's checkpoint at that point, byte for byte. The guidance, if
 * any, reaches the next agent that takes a step. The old run is left as it was (it only records that it
 * was forked). Then the new run is driven like `resume`.
 */
export async function forkCommand(
  runId: string,
  guidance: string | undefined,
  opts: { at: number; yes?: boolean; json?: boolean } & ModelFlags,
): Promise<number> {
  let newRunId: string;
  try {
    const store = await openStore();
    try {
      const fork = await forkRun(store, runId, {
        at: opts.at,
        guidance,
        by: "cli",
        ids: newId,
        workspaceDir: (id) => runDir(id).workspace,
      });
      newRunId = fork.newRunId;
      if (!opts.json) {
        process.stdout.write(
          `Forked ${runId} at event ${opts.at} into ${newRunId} (workspace at ${fork.label}).\n`,
        );
      }
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
  return resumeCommand(newRunId, {
    yes: opts.yes,
    json: opts.json,
    provider: opts.provider,
    model: opts.model,
    baseUrl: opts.baseUrl,
  });
}
