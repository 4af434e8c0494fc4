import { loadConfig } from "../../config/index.ts";
import { type EventData, effectiveEvents, foldRun, isTerminal, UserError } from "../../core/index.ts";
import type { ApprovalMode } from "../../orchestrator/index.ts";
import { Workspace } from "../../workspace/index.ts";
import { createSandbox, home, makeModel, openStore } from "../compose.ts";
import { attachView } from "../live.ts";
import { reportError } from "../main.ts";
import { createScriptedDemoModel } from "./demo.ts";
import { drive } from "./run.ts";

/** `entourage resume`: continue a run from its log with the same model, sandbox and workspace. */
export async function resumeCommand(
  runId: string,
  flags: { yes?: boolean; approval?: ApprovalMode; json?: boolean },
): Promise<number> {
  try {
    const store = await openStore();
    try {
      const events = await store.read(runId);
      const created = events.find((e) => e.type === "run.created");
      if (created?.type !== "run.created")
        throw new UserError("run_not_found", `No run with id ${runId}. List runs with: entourage runs`);
      const state = foldRun(runId, events);
      if (isTerminal(state.status)) {
        throw new UserError(
          "run_finished",
          `Run ${runId} has already ${state.status}; nothing to resume. See its change with: entourage diff ${runId}`,
        );
      }
      const d: EventData<"run.created"> = created.data;
      const config = loadConfig({ home: home(), repo: d.repo, flags: { approval: flags.approval } });
      const model = d.model.scripted
        ? createScriptedDemoModel(effectiveEvents(events).filter((e) => e.type === "agent.step.ended").length)
        : await makeModel(
            { provider: d.model.provider, model: d.model.model, baseUrl: d.model.baseUrl },
            { idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000, maxRetries: config.maxRetries },
          );
      const workspace = await Workspace.open(d.workspace);
      const sandboxOptions = {
        network: d.sandbox.network,
        timeoutMs: config.commandTimeoutSeconds * 1000,
        env: config.sandboxEnv,
      };
      const backend = d.sandbox.backend as "bwrap" | "docker" | "subprocess";
      const sandbox = await createSandbox(backend, d.workspace, sandboxOptions);
      const fromSeq = await store.nextSeq(runId);
      const detach = attachView(store, runId, flags.json ?? false);
      if (!flags.json)
        process.stdout.write(`resuming ${runId} from event ${fromSeq} (${state.steps} steps done)\n`);
      // The run keeps the approval mode it was started with (a --yes run stays non-interactive), unless
      // this command says otherwise.
      const recorded = recordedApprovalMode(d.approval);
      const yes = flags.yes ?? d.approval.includes("--yes");
      return await drive(store, runId, {
        model,
        workspace,
        sandbox,
        approvalMode: yes ? "auto" : (flags.approval ?? recorded ?? config.approval),
        maxFixRounds: config.maxFixRounds,
        approval: config,
        repo: d.repo,
        sandboxFor: (dir) => createSandbox(backend, dir, sandboxOptions),
        yes,
        detach,
      });
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}

const MODES: readonly ApprovalMode[] = ["auto", "ask-risky", "ask-all", "plan"];

/** The approval mode recorded in `run.created` ("auto (--yes)" → auto). */
function recordedApprovalMode(recorded: string): ApprovalMode | undefined {
  return MODES.find((m) => recorded === m || recorded.startsWith(`${m} `));
}
