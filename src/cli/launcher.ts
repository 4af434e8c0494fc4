/**
 * How a new run is composed, shared by `run`, `demo` and the HTTP server: config layers and trust, model,
 * sandbox, the workspace copy, the project's extensions, then its lease and first events. Continuing one is
 * resume-run.ts, driving one drive.ts; the terminal parts (live view, prompts, exit codes) stay in the commands.
 */
import { existsSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import {
  type Config,
  describeTrustItems,
  type LoadConfigOptions,
  loadConfig,
  loadProjectTrust,
  type ProjectTrust,
  recordTrust,
} from "../config/index.ts";
import {
  type ApprovalMode,
  type ApprovalRule,
  type EventData,
  type NewEvent,
  newId,
  type OrchestrationMode,
  type SandboxBackendName,
  UserError,
} from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import { lessonsForRun } from "../memory/index.ts";
import { createRun } from "../orchestrator/index.ts";
import type { Sandbox } from "../sandbox/index.ts";
import { type EventStore, type HeldLease, holdLease } from "../store/index.ts";
import { detectTestCommand, Workspace } from "../workspace/index.ts";
import {
  chooseSandbox,
  createSandbox,
  detectMounts,
  home,
  makeModel,
  mountsRef,
  runDir,
  type SandboxMounts,
  startSandbox,
} from "./compose.ts";
import { chooseDockerImage } from "./image-choice.ts";
import { loadProject, type Project } from "./project.ts";

type SandboxOptions = {
  network: "off" | "on";
  timeoutMs: number;
  env: Record<string, string>;
  mounts: SandboxMounts;
  image?: string;
  /** The run's disk quota (workspaceQuotaMb), enforced by every backend. */
  diskBytes?: number;
  /** The run's process cap (maxProcesses). */
  pids?: number;
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
  /** --workspace-quota (MB) and --max-processes. */
  workspaceQuotaMb?: number;
  maxProcesses?: number;
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
  /** The run goes to the team's queue: a worker drives it, so a sandbox named is probed there, not here. */
  queued?: boolean;
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
      workspaceQuotaMb: request.workspaceQuotaMb,
      maxProcesses: request.maxProcesses,
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
  const runId = newId("run");
  const dirs = runDir(runId);
  // The sandbox probe (bwrap, docker) and the workspace copy (git) both wait on other processes: at once.
  // An image (flag, API or config) with no backend named means the docker sandbox.
  const choosing = chooseSandbox(
    config.sandbox ?? (config.image !== undefined ? "docker" : undefined),
    config.network,
    false,
    request.queued,
  );
  const copying = Workspace.create({ repo, dir: dirs.workspace });
  // Loading the SDK and the provider holds this thread (import() reads and compiles synchronously): begun
  // once the probe's and the copy's first processes run, it overlaps them instead of preceding them.
  setImmediate(() => model.warmUp?.());
  const [sandboxChoice, workspace] = await bothOrCleanUp(choosing, copying, dirs.root);
  const imaged = sandboxChoice.name === "docker" || sandboxChoice.name === "gvisor";
  if (request.image && !imaged) {
    await rm(dirs.root, { recursive: true, force: true });
    throw new UserError(
      "image_needs_docker",
      `--image chooses the docker (or gvisor) sandbox's image, but this run uses the ${sandboxChoice.name} sandbox: drop --image, or pass --sandbox docker.`,
    );
  }
  // The docker backend runs an image: the one asked for, else the repository's language image when built.
  const image = imaged ? await chooseDockerImage(config.image, repo) : undefined;
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
      pids: config.maxProcesses,
    },
  };
}

/**
 * The sandbox choice and the workspace copy, made at once. The choice's error comes first, as when they were
 * made one after the other; a workspace copied for a run that cannot start is removed with its run folder.
 */
async function bothOrCleanUp<S, W>(
  choosing: Promise<S>,
  copying: Promise<W>,
  runRoot: string,
): Promise<[S, W]> {
  const [chosen, copied] = await Promise.allSettled([choosing, copying]);
  if (chosen.status === "fulfilled" && copied.status === "fulfilled") return [chosen.value, copied.value];
  await rm(runRoot, { recursive: true, force: true });
  throw chosen.status === "rejected" ? chosen.reason : (copied as PromiseRejectedResult).reason;
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
export async function settleTrust(
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

/** The drive parts of a prepared run: its sandbox is started here, made while the run starts. */
export async function partsOf(prepared: PreparedRun, lease: HeldLease): Promise<DriveParts> {
  const { sandboxName, sandboxOptions } = prepared;
  return {
    lease,
    model: prepared.model,
    workspace: prepared.workspace,
    sandbox: startSandbox(sandboxName, prepared.workspace.dir, sandboxOptions),
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
export function setupSandbox(
  name: SandboxBackendName,
  dir: string,
  options: SandboxOptions,
  setup: EventData<"run.created">["setup"],
): (() => Promise<Sandbox>) | undefined {
  if (setup?.network !== "on" || options.network === "on") return undefined;
  return () => createSandbox(name, dir, { ...options, network: "on" });
}
