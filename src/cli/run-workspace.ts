import { foldRun, type RunState, UserError } from "../core/index.ts";
import type { EventStore } from "../store/index.ts";
import { Workspace } from "../workspace/index.ts";
import { openStore } from "./compose.ts";

/** Opens a past run's workspace from its log (for diff and apply). */
export async function openRunWorkspace(
  runId: string,
  options: { keepStore?: boolean } = {},
): Promise<{ workspace: Workspace; state: RunState; store: EventStore }> {
  const store = await openStore();
  try {
    const events = await store.read(runId);
    if (events.length === 0)
      throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
    const state = foldRun(runId, events);
    const workspace = await Workspace.open(state.workspace);
    if (!options.keepStore) await store.close();
    return { workspace, state, store };
  } catch (error) {
    await store.close();
    throw error;
  }
}
