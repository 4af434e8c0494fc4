import type { ApprovalMode } from "../../core/index.ts";
import { type ModelFlags, openStore } from "../compose.ts";
import { prepareResume } from "../resume-run.ts";
import { reportError } from "../terminal/exit.ts";
import { attachView } from "../terminal/live.ts";
import { drive } from "./run.ts";
import { terminalTrustQuestion } from "./trust.ts";

/** `entourage resume`: continue a run from its log with the same model, sandbox and workspace. */
export async function resumeCommand(
  runId: string,
  flags: {
    yes?: boolean;
    approval?: ApprovalMode;
    json?: boolean;
    server?: boolean;
    withoutRepoSettings?: boolean;
  } & ModelFlags,
): Promise<number> {
  try {
    const store = await openStore();
    try {
      const { parts, state, fromSeq } = await prepareResume(
        store,
        runId,
        { ...flags, askTrust: terminalTrustQuestion(flags.json) },
        "entourage resume",
      );
      const detach = attachView(store, runId, flags.json ?? false);
      if (!flags.json)
        process.stdout.write(`resuming ${runId} from event ${fromSeq} (${state.steps} steps done)\n`);
      return await drive(store, runId, { ...parts, detach, json: flags.json, server: flags.server });
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}
