/**
 * How a run is composed and driven, shared by `run`, `demo`, `resume` and the HTTP server: config layers,
 * model, sandbox, the workspace copy, the live control through which people steer it. The terminal
 * parts (live view, prompts, exit codes) stay in the commands.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type Config,
  describeTrustItems,
  type LoadConfigOptions,
  loadConfig,
  loadProjectTrust,
  type ProjectTrust,
  recordTrust,
  saveProjectRule,
} from "../config/index.ts";
import {
  APPROVAL_MODES,
  type ApprovalMode,
  type ApprovalRule,
  createdData,
  type EventData,
  effectiveEvents,
  errorMessage,
  failedOnModel,
  foldRun,
  isTerminal,
  type NewEvent,
  newId,
  type OrchestrationMode,
  type RunState,
  type SandboxBackendName,
  systemClock,
  UserError,
} from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import { lessonsForRun, proposeLessons } from "../memory/index.ts";
import { type Approver, createRun, driveRun, RunControl } from "../orchestrator/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import type { Launcher } from "../server/deps.ts";
import { type EventStore, type HeldLease, holdLease } from "../store/index.ts";
import { builtinTools } from "../tools/builtin/index.ts";
import { detectTestCommand, Workspace } from "../workspace/index.ts";
import {
  chooseSandbox,
  createSandbox,
  detectMounts,
  home,
  type ModelFlags,
  makeModel,
  mountsRef,
  runDir,
  type SandboxMounts,
} from "./compose.ts";
import { createScriptedDemoModel } from "./demo-model.ts";
import { chooseDockerImage } from "./image-choice.ts";
import { planModelSwitch } from "./model-switch.ts";
import { loadProject, type Project } from "./project.ts";

type SandboxOptions = {
  network: "off" | "on";
  timeoutMs: number;
  env: Record<string, string>;
  mounts: SandboxMounts;
  image?: string;
  /** The run's disk quota (workspaceQuotaMb), enforced by every backend. */
  diskBytes?: number;
};
type ApprovalConfig = Pick<Config, "approvalRules" | "approvalTimeoutSeconds" | "approvalTimeoutDecision">;

/** What someone asks for when starting a run (flags of `run`, or the body of POST /runs). */
export interface RunRequest {
  task: string;
  repo: string;
  mode?: OrchestrationMode;
  approval?: ApprovalMode;
  sandbox?: SandboxBackendName;
  /** Docker sandbox image (`--image`): a recipe name (node, python, go, rust, base) or an image reference. */
  image?: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  testCommand?: string;
  maxSteps?: number;
  maxTokens?: number;
  maxCostUsd?: number;
  /** Approval rules after the config files' (flags: --allow/--ask/--deny). */
  rules?: ApprovalRule[];
  /** Approve every call (`--yes`). */
  yes?: boolean;
  /** false: the orchestrator does not run the test command at the end (`--no-verify`). */
  verify?: boolean;
  /** Run once before the agents (`--setup`), and whether it may use the network (`--setup-network`). */
  setupCommand?: string;
  setupNetwork?: "off" | "on";
  /**
   * Asked when the repository's config has settings that need trust and the user has not trusted it as it
   * is (the terminal's question); without it (headless, the server) the run is refused.
   */
  askTrust?: TrustQuestion;
  /** Run without the repository's settings that need trust instead of refusing (`--without-repo-settings`). */
  withoutRepoSettings?: boolean;
}

/** The person's answer to "trust this repository's settings?". */
export type TrustQuestion = (trust: ProjectTrust) => Promise<"trust" | "without" | "quit">;

/** A new run, composed and not yet logged. */
export interface PreparedRun {
  runId: string;
  model: Model;
  workspace: Workspace;
  sandboxName: SandboxBackendName;
  sandboxOptions: SandboxOptions;
  created: EventData<"run.created">;
  approvalMode: ApprovalMode;
  approval: ApprovalConfig;
  maxFixRounds: number;
  yes: boolean;
  /** The saved lessons (.entourage/memory.md) the run gives its agents, logged as `lesson.used`. */
  lessonsUsed?: EventData<"lesson.used">;
  /** Instructions, custom agents, MCP servers and plugins of the project (src/cli/project.ts). */
  project?: Project;
}

/** Everything `driveParts` needs to drive a run (new or resumed). */
export interface DriveParts {
  /** This process's lease on the run: the driver writes through it, and releases it when it stops. */
  lease: HeldLease;
  model: Model;
  workspace: Workspace;
  sandbox: Sandbox;
  approvalMode: ApprovalMode;
  approval: ApprovalConfig;
  repo: string;
  maxFixRounds: number;
  yes: boolean;
  /** Dynamic mode: a sandbox like the run's own, for a parallel agent's workspace copy. */
  sandboxFor: (workspaceDir: string) => Promise<Sandbox>;
  /** The project's extensions: their tools join the built-ins; closed when the run stops. */
  project?: Project;
  /** A sandbox with network for the setup command when `setupNetwork` is on. */
  setupSandbox?: () => Promise<Sandbox>;
}

/** Composes a new run from a request: config layers, model, sandbox choice, the workspace copy. */
export async function prepareRun(request: RunRequest): Promise<PreparedRun> {
  if (request.task.trim() === "")
    throw new UserError(
      "empty_task",
      'The task is empty: say what to do, e.g. entourage run "Fix the failing test"',
    );
  const repo = resolve(request.repo);
  if (!existsSync(repo) || !statSync(repo).isDirectory()) {
    throw new UserError(
      "repo_not_found",
      `The repository ${repo} does not exist or is not a directory (--repo).`,
    );
  }
  const configOptions: LoadConfigOptions = {
    home: home(),
    repo,
    flags: {
      provider: request.provider,
      model: request.model,
      baseUrl: request.baseUrl,
      sandbox: request.sandbox,
      image: request.image,
      approval: request.approval,
      mode: request.mode,
      testCommand: request.testCommand,
      maxSteps: request.maxSteps,
      maxTokens: request.maxTokens,
      maxCostUsd: request.maxCostUsd,
      approvalRules: request.rules?.length ? request.rules : undefined,
      verify: request.verify,
      setupCommand: request.setupCommand,
      setupNetwork: request.setupNetwork,
    },
  };
  const trust = await settleTrust(configOptions, request);
  const config = loadConfig(configOptions);
  const model = await makeModel(
    { provider: config.provider, model: config.model, baseUrl: config.baseUrl },
    { idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000, maxRetries: config.maxRetries },
  );
  // An image (flag, API or config) with no backend named means the docker sandbox.
  const sandboxChoice = await chooseSandbox(
    config.sandbox ?? (config.image !== undefined ? "docker" : undefined),
    config.network,
  );
  if (request.image && sandboxChoice.name !== "docker") {
    throw new UserError(
      "image_needs_docker",
      `--image chooses the docker sandbox's image, but this run uses the ${sandboxChoice.name} sandbox: drop --image, or pass --sandbox docker.`,
    );
  }
  // The docker backend runs an image: the one asked for, else the repository's language image when built.
  const image = sandboxChoice.name === "docker" ? await chooseDockerImage(config.image, repo) : undefined;
  const runId = newId("run");
  const dirs = runDir(runId);
  const workspace = await Workspace.create({ repo, dir: dirs.workspace });
  // A setup command (npm ci, pip install) makes the dependency folders itself, writable, in the workspace.
  const mountConfig = config.setupCommand ? { ...config, dependencyDirs: [] } : config;
  const mounts = await detectMounts(workspace.repo, mountConfig, config.network);
  // Mount points and links must never show in the run's diff nor be applied.
  await workspace.excludeFromSnapshots(mounts.dependencies.map((d) => d.path));
  const yes = request.yes ?? false;
  const lessons = lessonsForRun(repo);
  // Project instructions, custom agents, MCP servers, plugins: composed with the lessons into run.created.
  const project = await loadProject({
    repo,
    home: home(),
    config,
    workspace: dirs.workspace,
    model,
    buildModel: (id) =>
      makeModel(
        { provider: model.provider, model: id, baseUrl: config.baseUrl },
        { idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000, maxRetries: config.maxRetries },
      ),
    context: { lessons: lessons.bullets },
  });
  if (trust) project.events.unshift(trust);
  return {
    runId,
    model,
    workspace,
    sandboxName: sandboxChoice.name,
    created: {
      task: request.task,
      repo,
      workspace: dirs.workspace,
      mode: config.mode,
      testCommand: config.testCommand
        ? { command: config.testCommand, source: "configured" }
        : await detectTestCommand(repo),
      verify: config.verify ? undefined : false,
      setup: config.setupCommand ? { command: config.setupCommand, network: config.setupNetwork } : undefined,
      model: {
        provider: model.provider,
        model: model.id,
        baseUrl: config.baseUrl,
        scripted: model.scripted || undefined,
      },
      sandbox: {
        ...sandboxChoice.ref,
        ...mountsRef(mounts),
        ...(image ? { image: image.image, imageReason: image.reason } : {}),
      },
      budget: { maxSteps: config.maxSteps, maxTokens: config.maxTokens, maxCostUsd: config.maxCostUsd },
      approval: yes ? "auto (--yes)" : config.approval,
      ...leftOutOf(workspace),
      ...project.created,
    },
    project,
    lessonsUsed:
      lessons.lessonIds.length > 0 ? { lessonIds: lessons.lessonIds, file: lessons.file } : undefined,
    approvalMode: yes ? "auto" : config.approval,
    maxFixRounds: config.maxFixRounds,
    approval: config,
    yes,
    sandboxOptions: {
      network: config.network,
      timeoutMs: config.commandTimeoutSeconds * 1000,
      env: config.sandboxEnv,
      mounts,
      image: image?.image,
      diskBytes: config.workspaceQuotaMb * 1024 * 1024,
    },
  };
}

/** What the workspace copy left out of the checkout, for run.created (nothing is dropped silently). */
function leftOutOf(workspace: Workspace): Pick<EventData<"run.created">, "leftOut" | "leftOutCount"> {
  if (workspace.skipped.length === 0) return {};
  return { leftOut: workspace.skipped.slice(0, 100), leftOutCount: workspace.skipped.length };
}

/**
 * Decides whether the repository's settings that need trust load (sets `options.projectSettings`): yes when
 * trusted as they are, else the person is asked; headless, the run is refused unless it may go without them.
 * Returns the event that records the outcome, undefined when the repository asks for nothing of the kind.
 */
async function settleTrust(
  options: LoadConfigOptions,
  request: Pick<RunRequest, "askTrust" | "withoutRepoSettings">,
): Promise<NewEvent | undefined> {
  const trust = loadProjectTrust(options);
  if (!trust || trust.items.length === 0) return undefined;
  const settings = trust.items.map((i) => i.setting).join(", ");
  const loaded: NewEvent = {
    type: "extension.loaded",
    data: {
      kind: "settings",
      name: ".entourage/config.json",
      source: trust.file,
      note: `trusted: ${settings}`,
    },
  };
  if (trust.trusted) return loaded;
  const answer = request.withoutRepoSettings ? "without" : await request.askTrust?.(trust);
  if (answer === "trust") {
    recordTrust(options.home, trust);
    return loaded;
  }
  if (answer === "without") {
    options.projectSettings = "safe-only";
    return {
      type: "extension.failed",
      data: {
        kind: "settings",
        name: ".entourage/config.json",
        source: trust.file,
        message: `Left out, the repository is not trusted: ${settings}. The rest of its config loaded. Review and trust it with: entourage trust ${trust.repo}`,
      },
    };
  }
  throw untrustedError(trust);
}

/** The refusal of a repository whose settings need trust, naming each and both ways on. */
export function untrustedError(trust: ProjectTrust): UserError {
  const why = trust.changedSinceTrusted
    ? `${trust.file} changed since you trusted it, and it has`
    : `${trust.file} has`;
  return new UserError(
    "untrusted_repository",
    `${why} settings that run code on your machine or weaken safety; they load only once you trust this repository:\n` +
      `${describeTrustItems(trust.items)}\n` +
      `Review them, then trust the repository: entourage trust ${trust.repo}\n` +
      'Or run without them: --without-repo-settings (API: "withoutRepoSettings": true).',
  );
}

/**
 * Takes the new run's lease for this process (`label`: "entourage run"…), then logs its `run.created` and,
 * when it gives its agents saved lessons, `lesson.used`.
 */
export async function logNewRun(store: EventStore, prepared: PreparedRun, label: string): Promise<HeldLease> {
  const lease = await holdLease(store, prepared.runId, label, "started");
  try {
    await createRun(lease.store, prepared.runId, prepared.created);
    if (prepared.lessonsUsed)
      await lease.store.append(prepared.runId, [{ type: "lesson.used", data: prepared.lessonsUsed }]);
    await prepared.project?.attach(lease.store, prepared.runId);
    return lease;
  } catch (error) {
    await lease.release();
    throw error;
  }
}

/** The drive parts of a prepared run: its sandbox is created here. */
export async function partsOf(prepared: PreparedRun, lease: HeldLease): Promise<DriveParts> {
  const { sandboxName, sandboxOptions } = prepared;
  return {
    lease,
    model: prepared.model,
    workspace: prepared.workspace,
    sandbox: await createSandbox(sandboxName, prepared.workspace.dir, sandboxOptions),
    approvalMode: prepared.approvalMode,
    approval: prepared.approval,
    repo: prepared.created.repo,
    maxFixRounds: prepared.maxFixRounds,
    sandboxFor: (dir) => createSandbox(sandboxName, dir, sandboxOptions),
    setupSandbox: setupSandbox(sandboxName, prepared.workspace.dir, sandboxOptions, prepared.created.setup),
    yes: prepared.yes,
    project: prepared.project,
  };
}

/** The setup command's own sandbox when it may use the network; undefined: it runs in the run's sandbox. */
function setupSandbox(
  name: SandboxBackendName,
  dir: string,
  options: SandboxOptions,
  setup: EventData<"run.created">["setup"],
): (() => Promise<Sandbox>) | undefined {
  if (setup?.network !== "on" || options.network === "on") return undefined;
  return () => createSandbox(name, dir, { ...options, network: "on" });
}

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

/**
 * The live handle of a run: approvals wait here for the first answer (`localApprover`, the API, or the
 * configured timeout); "always allow" rules are saved to the project's .entourage/config.json.
 */
export function createRunControl(
  runId: string,
  parts: Pick<DriveParts, "approval" | "repo">,
  localApprover: Approver | undefined,
): RunControl {
  return new RunControl(runId, {
    ids: newId,
    localApprover,
    approvalTimeoutMs: parts.approval.approvalTimeoutSeconds
      ? parts.approval.approvalTimeoutSeconds * 1000
      : undefined,
    timeoutDecision: parts.approval.approvalTimeoutDecision,
    saveRule: async (rule) => {
      // The user's own answer: a file that loaded in full before keeps loading in full (an allow rule
      // would otherwise make the changed file wait for trust).
      const before = loadProjectTrust({ home: home(), repo: parts.repo, env: {} });
      saveProjectRule(parts.repo, rule);
      if (before && (before.trusted || before.items.length === 0))
        recordTrust(home(), loadProjectTrust({ home: home(), repo: parts.repo, env: {} })!);
    },
  });
}

/**
 * Drives a run to its end or to an interruption (`signal`: the run is left paused and resumable), and
 * always releases its sandbox. Resolves with the folded final state.
 */
export async function driveParts(
  runId: string,
  parts: DriveParts,
  control: RunControl,
  signal: AbortSignal,
): Promise<RunState> {
  try {
    return await driveHolding(parts.lease.store, runId, parts, control, signal);
  } catch (error) {
    // Another process took the run over (this one went silent past the lease's TTL): say so, not "aborted".
    if (parts.lease.lost.aborted) throw parts.lease.lost.reason;
    throw error;
  } finally {
    await parts.lease.release();
  }
}

async function driveHolding(
  store: EventStore,
  runId: string,
  parts: DriveParts,
  control: RunControl,
  signal: AbortSignal,
): Promise<RunState> {
  parts.workspace.lendTo(parts.sandbox.runAs);
  let state: RunState;
  try {
    state = await driveRun(
      {
        store,
        model: parts.model,
        sandbox: parts.sandbox,
        workspace: parts.workspace,
        tools: parts.project?.tools ?? builtinTools,
        modelFor: parts.project?.modelFor,
        approval: {
          mode: parts.approvalMode,
          approver: control.approver,
          rules: parts.approval.approvalRules,
        },
        ids: newId,
        clock: systemClock,
        signal: AbortSignal.any([signal, parts.lease.lost]),
        control,
        tookOverFrom: parts.lease.tookOverFrom?.holder,
        sandboxFor: parts.sandboxFor,
        setupSandbox: parts.setupSandbox,
        agentsDir: join(runDir(runId).root, "agents"),
      },
      runId,
      { maxFixRounds: parts.maxFixRounds },
    );
  } catch (error) {
    await parts.project?.close();
    throw error;
  } finally {
    await parts.sandbox.destroy();
    parts.workspace.lendTo(undefined);
  }
  await proposeLessonsAfterRun(store, runId, state, parts.model, signal);
  // After the lessons, so plugins' listeners see them too; then MCP servers stop.
  await parts.project?.close();
  return state;
}

/**
 * Lessons from the person's corrections, drafted by the run's model once the run has ended. They stay
 * pending until someone decides (the CLI's prompt, `entourage memory review`, the API); a failure here
 * never fails the run, and `memory review` drafts whatever was missed.
 */
async function proposeLessonsAfterRun(
  store: EventStore,
  runId: string,
  state: RunState,
  model: Model,
  signal: AbortSignal,
): Promise<void> {
  if (!isTerminal(state.status)) return;
  await proposeLessons(store, runId, model, { signal }).catch((error: unknown) => {
    process.stderr.write(
      `entourage: lessons from this run's corrections were not drafted (${errorMessage(error)}); later: entourage memory review ${runId}\n`,
    );
  });
}

/** The server's launcher, plus `shutdown` for the process that owns it. */
export interface ServerLauncher extends Launcher {
  /** Interrupts every run it drives (each is left paused and resumable) and waits for them to stop. */
  shutdown(): Promise<void>;
}

/**
 * Starts and continues runs inside the server's process. Nothing answers approvals but the API (and the
 * configured timeout): a run waits for a person rather than failing.
 */
export function createLauncher(deps: {
  store: EventStore;
  runs: Map<string, RunControl>;
  log?: (message: string) => void;
}): ServerLauncher {
  const log = deps.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const driving = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const starting = new Set<string>();

  const launch = (runId: string, parts: DriveParts): void => {
    const control = createRunControl(runId, parts, undefined);
    control.hasRemoteClients = true;
    deps.runs.set(runId, control);
    const abort = new AbortController();
    const done = driveParts(runId, parts, control, abort.signal)
      .then(
        (state) => log(`run ${runId} ${state.status}`),
        (error: unknown) => {
          if (!abort.signal.aborted) log(`run ${runId} stopped: ${errorMessage(error)}`);
        },
      )
      .finally(() => {
        deps.runs.delete(runId);
        driving.delete(runId);
      });
    driving.set(runId, { abort, done });
  };

  return {
    async start(input) {
      const prepared = await prepareRun({ ...input, yes: false });
      const lease = await logNewRun(deps.store, prepared, "entourage serve");
      const parts = await partsOf(prepared, lease).catch(async (error: unknown) => {
        await lease.release();
        throw error;
      });
      launch(prepared.runId, parts);
      log(`run ${prepared.runId} started: ${input.task.slice(0, 80)}`);
      return prepared.runId;
    },
    async continue(runId, model) {
      if (deps.runs.has(runId) || starting.has(runId)) return;
      starting.add(runId);
      try {
        const { parts } = await prepareResume(deps.store, runId, { ...model }, "entourage serve");
        launch(runId, parts);
        log(`run ${runId} continued`);
      } finally {
        starting.delete(runId);
      }
    },
    async shutdown() {
      for (const { abort } of driving.values()) abort.abort(new Error("server shutting down"));
      await Promise.all([...driving.values()].map((d) => d.done));
    },
  };
}
