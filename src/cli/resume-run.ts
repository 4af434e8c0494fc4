import { loadConfig } from "../config/index.ts";
import {
  createdData,
  effectiveEvents,
  failedOnModel,
  foldRun,
  isTerminal,
  type RunState,
  UserError,
} from "../core/index.ts";
import { APPROVAL_MODES, type ApprovalMode, type SandboxBackendName } from "../core/vocabulary.ts";
import { type EventStore, type HeldLease, holdLease } from "../store/index.ts";
import { Workspace } from "../workspace/index.ts";
import { createSandbox, detectMounts, home, type ModelFlags, makeModel } from "./compose.ts";
import { createScriptedDemoModel } from "./demo-model.ts";
import { type DriveParts, type RunRequest, settleTrust, setupSandbox } from "./launcher.ts";
import { planModelSwitch } from "./model-switch.ts";
import { loadProject } from "./project.ts";

/** The approval mode recorded in `run.created` ("auto (--yes)" → auto). */
function recordedApprovalMode(recorded: string): ApprovalMode | undefined {
  return APPROVAL_MODES.find((m) => recorded === m || recorded.startsWith(`${m} `));
}

/**
 * Composes an existing run to continue it from its log with the same model, sandbox and workspace. The
 * run keeps the approval mode it was started with (a --yes run stays non-interactive) unless `flags` say
 * otherwise.
 */
export async function prepareResume(
  store: EventStore,
  runId: string,
  flags: { yes?: boolean; approval?: ApprovalMode } & ModelFlags &
    Pick<RunRequest, "askTrust" | "withoutRepoSettings">,
  label: string,
): Promise<{ parts: DriveParts; state: RunState; fromSeq: number }> {
  createdData(runId, await store.read(runId)); // run_not_found before anything else
  // First of all: one process drives a run. A live driver elsewhere refuses this; a dead one's is taken over.
  const lease = await holdLease(store, runId, label, "resumed");
  try {
    return await resumeHolding(lease, runId, flags);
  } catch (error) {
    await lease.release();
    throw error;
  }
}

async function resumeHolding(
  lease: HeldLease,
  runId: string,
  flags: Parameters<typeof prepareResume>[2],
): Promise<{ parts: DriveParts; state: RunState; fromSeq: number }> {
  const store = lease.store;
  let events = await store.read(runId);
  let state = foldRun(runId, events);
  const d = createdData(runId, events);
  const configOptions = { home: home(), repo: d.repo, flags: { approval: flags.approval } };
  const trust = await settleTrust(configOptions, flags);
  const config = loadConfig(configOptions);
  const modelOptions = {
    idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000,
    maxRetries: config.maxRetries,
  };
  if (isTerminal(state.status) && !failedOnModel(state)) {
    throw new UserError(
      "run_finished",
      `Run ${runId} has already ${state.status}; nothing to resume. See its change with: entourage diff ${runId}`,
    );
  }
  // Built (and any switch logged) before the run is reopened: a model that cannot be configured writes nothing.
  const next = await planModelSwitch(runId, events, flags, {
    ...modelOptions,
    recorded: (ref) =>
      ref.scripted
        ? Promise.resolve(
            createScriptedDemoModel(
              effectiveEvents(events).filter((e) => e.type === "agent.step.ended").length,
            ),
          )
        : makeModel(ref, modelOptions),
  });
  const model = next.model!;
  await next.record(store, "resume");
  if (isTerminal(state.status)) {
    // It failed because its model failed (unreachable, rejected the key…): it may go on, on this model.
    await store.append(runId, [
      {
        type: "run.status",
        data: {
          status: "paused",
          reason: `reopened to resume: it had failed because its model failed (${state.error?.code})`,
        },
      },
    ]);
  }
  events = await store.read(runId);
  state = foldRun(runId, events);
  const workspace = await Workspace.open(d.workspace);
  // Re-detected on this machine: the checkout's folders and toolchain may have changed since.
  const mounts = await detectMounts(
    workspace.repo,
    d.setup ? { ...config, dependencyDirs: [] } : config,
    d.sandbox.network,
  );
  await workspace.excludeFromSnapshots(mounts.dependencies.map((dep) => dep.path));
  const sandboxOptions = {
    network: d.sandbox.network,
    timeoutMs: config.commandTimeoutSeconds * 1000,
    env: config.sandboxEnv,
    mounts,
    image: d.sandbox.image,
    diskBytes: config.workspaceQuotaMb * 1024 * 1024,
    pids: config.maxProcesses,
  };
  const backend = d.sandbox.backend as SandboxBackendName;
  const sandbox = await createSandbox(backend, d.workspace, sandboxOptions);
  const recorded = recordedApprovalMode(d.approval);
  const yes = flags.yes ?? d.approval.includes("--yes");
  // Tools (MCP servers, plugins) are set up again; agents and context are as run.created recorded them.
  const project = await loadProject({
    repo: d.repo,
    home: home(),
    config,
    workspace: d.workspace,
    model,
    buildModel: (id) =>
      makeModel({ provider: model.provider, model: id, baseUrl: state.model.baseUrl }, modelOptions),
    recorded: d,
  });
  if (trust) project.events.unshift(trust);
  await project.attach(store, runId, events.length);
  return {
    parts: {
      lease,
      model,
      workspace,
      sandbox,
      approvalMode: yes ? "auto" : (flags.approval ?? recorded ?? config.approval),
      maxFixRounds: config.maxFixRounds,
      approval: config,
      repo: d.repo,
      sandboxFor: (dir) => createSandbox(backend, dir, sandboxOptions),
      setupSandbox: setupSandbox(backend, d.workspace, sandboxOptions, d.setup),
      yes,
      project,
    },
    state,
    fromSeq: events.length,
  };
}
