import { UserError } from "../../core/index.ts";
import { RunEmitter } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { reportError } from "../main.ts";
import { openRunWorkspace } from "../run-workspace.ts";

/** `entourage apply`: writes the run's change into the user's checkout, refusing if it changed underneath. */
export async function applyCommand(runId: string): Promise<number> {
  try {
    const { workspace, state, store } = await openRunWorkspace(runId, { keepStore: true });
    try {
      if (state.status === "running" || state.status === "waiting" || state.status === "queued") {
        throw new UserError(
          "run_active",
          `Run ${runId} is still ${state.status}. Wait for it to finish (or stop it) before applying.`,
        );
      }
      const files = await workspace.applyTo(state.repo).catch(async (error: unknown) => {
        throw await explainIfApplied(error, runId, state.repo, store);
      });
      if (files.length === 0) {
        process.stdout.write(`Run ${runId} changed nothing; ${state.repo} is unchanged.\n`);
        return 0;
      }
      const emitter = new RunEmitter(store, runId);
      await emitter.emit({
        type: "diff.applied",
        data: { target: state.repo, files, headRef: (await workspace.head()) ?? workspace.baseRef },
      });
      await emitter.flush();
      process.stdout.write(
        `Applied ${files.length} file${files.length === 1 ? "" : "s"} to ${state.repo}:\n`,
      );
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

/**
 * A checkout that no longer matches the baseline because this very run was applied to it already is not
 * "your edits": say so, instead of advising the user to stash the run's own change.
 */
async function explainIfApplied(
  error: unknown,
  runId: string,
  repo: string,
  store: EventStore,
): Promise<unknown> {
  if (!UserError.isInstance(error) || error.code !== "checkout_changed") return error;
  const applied = (await store.read(runId)).findLast((e) => e.type === "diff.applied");
  if (applied?.type !== "diff.applied") return error;
  return new UserError(
    "already_applied",
    `Run ${runId} was already applied to ${repo} at ${new Date(applied.time).toISOString()} ` +
      `(${applied.data.files.join(", ")}); nothing was written this time. ` +
      "Its change is in your checkout: review it there with `git diff`.",
    { cause: error },
  );
}
