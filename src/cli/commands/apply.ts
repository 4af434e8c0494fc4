import { applyRun } from "../../orchestrator/index.ts";
import { openStore } from "../compose.ts";
import { reportError } from "../main.ts";

/** `entourage apply`: writes the run's change into the user's checkout, refusing if it changed underneath. */
export async function applyCommand(runId: string): Promise<number> {
  try {
    const store = await openStore();
    try {
      const { files, target, state } = await applyRun(store, runId);
      if (files.length === 0) {
        process.stdout.write(`Run ${runId} changed nothing; ${target} is unchanged.\n`);
        return 0;
      }
      process.stdout.write(`Applied ${files.length} file${files.length === 1 ? "" : "s"} to ${target}:\n`);
      for (const f of files) process.stdout.write(`  ${f}\n`);
      if (state.status !== "succeeded")
        process.stdout.write(`(note: the run ended as ${state.status}; review the change)\n`);
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}
