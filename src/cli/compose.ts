/**
 * The composition root: the only place that picks concrete backends (store, sandbox, model) and wires
 * them into the engine. Heavy modules are imported lazily so `entourage runs` does not load the AI SDK.
 */
import { realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/index.ts";
import { UserError } from "../core/errors.ts";
import { newId, systemClock } from "../core/ids.ts";
import type { EventData } from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type {
  DependencyMount,
  Sandbox,
  SandboxBackendName,
  SandboxSpec,
  Toolchain,
} from "../sandbox/index.ts";
import { DEFAULT_LIMITS, PendingSandbox } from "../sandbox/index.ts";
import { entourageHome, type LoosePath, secureHome } from "../store/home.ts";
import type { EventStore } from "../store/index.ts";
import { storeLocation } from "./store-choice.ts";

export function home(): string {
  return entourageHome(process.env);
}

/** Where apply journals live: one slot per checkout (src/workspace/apply-journal.ts). */
export function applyJournals(): string {
  return join(home(), "applies");
}

/** What every HTTP API this process serves (`serve`, a live `run`, `acp`) takes from the host: ids, the clock,
 * the token, where runs' workspaces and apply journals live. */
export function apiHost(token: string) {
  return {
    clock: systemClock,
    ids: newId,
    token,
    workspaceDir: (id: string) => runDir(id).workspace,
    applyJournals: applyJournals(),
  };
}

export function runDir(runId: string): { root: string; workspace: string } {
  const root = join(home(), "runs", runId);
  return { root, workspace: join(root, "workspace") };
}

/** Opens the event store `--store` / ENTOURAGE_DATABASE_URL chose (PostgreSQL), else the SQLite default. */
export async function openStore(): Promise<EventStore> {
  tightenHome();
  const location = storeLocation();
  if (location.kind === "postgres") {
    const { openPostgresEventStore } = await import("../store/backends/postgres.ts");
    return openPostgresEventStore(location.url);
  }
  const { openSqliteEventStore } = await import("../store/backends/sqlite.ts");
  return openSqliteEventStore(location.path);
}

let tightened: LoosePath[] | undefined;

/**
 * Once per process, before the store opens: a home an older version (or a loose umask) left readable by
 * others is made private (`secureHome`). Silent, so scripts' stderr stays theirs; `doctor` reports it
 * (and, with `everyRun`, also looks at every run's folders).
 */
export function tightenHome(options: { everyRun?: boolean } = {}): LoosePath[] {
  tightened ??= secureHome(home());
  return options.everyRun ? [...tightened, ...secureHome(home(), { everyRun: true })] : tightened;
}

export interface SandboxChoice {
  name: SandboxBackendName;
  ref: EventData<"run.created">["sandbox"];
}

const SUBPROCESS_WARNING =
  "sandbox 'subprocess' does not isolate anything: commands run as you, with access to your files and network. Use it only for trusted code.";

/**
 * Picks the sandbox backend: the one asked for, else bwrap where it works, else docker; never subprocess silently.
 * `elsewhere`: the run is driven on another machine (a queued run, a worker drives it), so a backend asked for
 * is not probed here — the worker that takes the run probes it on its own machine.
 */
export async function chooseSandbox(
  requested: SandboxBackendName | undefined,
  network: "off" | "on",
  allowFallback = false,
  elsewhere = false,
): Promise<SandboxChoice> {
  const { createBackend, selectDefaultBackend } = await import("../sandbox/backends/index.ts");
  let name = requested;
  if (!name) {
    const selected = await selectDefaultBackend();
    if (selected.backend) name = selected.backend.name;
    else if (allowFallback) name = "subprocess";
    else {
      throw new UserError(
        "no_sandbox",
        `No isolating sandbox works on this machine:\n${selected.reasons.map((r) => `  - ${r}`).join("\n")}\n` +
          "Install bubblewrap (apt-get install bubblewrap) or Docker, or pass --sandbox subprocess to run commands without isolation (trusted code only).",
      );
    }
  }
  const backend = createBackend(name);
  const probe = elsewhere && requested ? { available: true } : await backend.probe();
  if (!probe.available) {
    throw new UserError(
      "sandbox_unavailable",
      `The ${name} sandbox is not available here: ${probe.reason ?? "unknown reason"}`,
    );
  }
  return {
    name,
    ref: {
      backend: name,
      isolated: backend.isolated,
      network,
      warning: backend.isolated ? undefined : SUBPROCESS_WARNING,
    },
  };
}

/** What a run's sandboxes mount besides the workspace: detected once per machine (new run or resume). */
export interface SandboxMounts {
  /** Workspace-relative dependency folders and their host sources in the user's checkout. */
  dependencies: DependencyMount[];
  toolchain: Toolchain;
  /** What was left out and why (refused folders, Entourage's runtime). */
  notes: string[];
}

export type MountConfig = Pick<Config, "dependencyDirs" | "toolchainPaths" | "entourageRuntime">;

/**
 * Detects what sandboxes of a run on `repo` (its top level) mount: its git-ignored dependency folders
 * (config `dependencyDirs`) read-only from the checkout (none without a repo), and the user's toolchain from this process's
 * environment (config `toolchainPaths`, `entourageRuntime`).
 */
export async function detectMounts(
  repo: string | undefined,
  config: MountConfig,
  network: "off" | "on",
  env: NodeJS.ProcessEnv = process.env,
): Promise<SandboxMounts> {
  const { findDependencyDirs } = await import("../workspace/index.ts");
  const { detectToolchain } = await import("../sandbox/index.ts");
  const root = repo === undefined ? undefined : await realpath(repo);
  const found = root === undefined ? [] : await findDependencyDirs(root, config.dependencyDirs);
  const dependencies = found.map((rel) => ({ source: join(root ?? "/", rel), path: rel }));
  const homeDir = env.HOME;
  const extraPaths = config.toolchainPaths.map((p) =>
    p.startsWith("~/") && homeDir ? join(homeDir, p.slice(2)) : p,
  );
  const { toolchain, notes } = detectToolchain({
    env,
    execPath: process.execPath,
    entourageRuntime: config.entourageRuntime,
    extraPaths,
    network,
    dependencyPaths: found,
  });
  return { dependencies, toolchain, notes };
}

/** The `run.created` fields that say what a run's sandbox mounts. */
export function mountsRef(
  mounts: SandboxMounts,
): Pick<EventData<"run.created">["sandbox"], "dependencies" | "path" | "toolchainDirs"> {
  return {
    dependencies: mounts.dependencies.map((d) => d.path),
    path: mounts.toolchain.path,
    toolchainDirs: [...mounts.toolchain.dirs],
  };
}

type SandboxRequest = {
  network: "off" | "on";
  timeoutMs: number;
  env: Record<string, string>;
  /** Dependency folders and toolchain (`detectMounts`); none: the system PATH only. */
  mounts?: SandboxMounts;
  /** Container image (docker); see `image-choice.ts`. */
  image?: string;
  /** The run's disk quota (`workspaceQuotaMb`); none: no quota. */
  diskBytes?: number;
  /** The run's process cap (`maxProcesses`); none: DEFAULT_LIMITS'. */
  pids?: number;
};

function sandboxSpec(workspace: string, options: SandboxRequest): SandboxSpec {
  return {
    workspace,
    network: options.network,
    limits: {
      ...DEFAULT_LIMITS,
      timeoutMs: options.timeoutMs,
      ...(options.diskBytes !== undefined ? { diskBytes: options.diskBytes } : {}),
      ...(options.pids !== undefined ? { pids: options.pids } : {}),
    },
    env: options.env,
    dependencies: options.mounts?.dependencies,
    toolchain: options.mounts?.toolchain,
    ...(options.image ? { image: options.image } : {}),
  };
}

export async function createSandbox(
  name: SandboxBackendName,
  workspace: string,
  options: SandboxRequest,
): Promise<Sandbox> {
  const { createBackend } = await import("../sandbox/backends/index.ts");
  return createBackend(name).create(sandboxSpec(workspace, options));
}

/** A run's own sandbox, made while the run starts: its first command waits for it (`PendingSandbox`). */
export function startSandbox(name: SandboxBackendName, workspace: string, options: SandboxRequest): Sandbox {
  const spec = sandboxSpec(workspace, options);
  const making = import("../sandbox/backends/index.ts").then(({ createBackend }) =>
    createBackend(name).create(spec),
  );
  return new PendingSandbox(name, spec, making);
}

export interface ModelFlags {
  provider?: string;
  model?: string;
  baseUrl?: string;
}

/** Builds the model from flags/config/env; a UserError listing the ways to configure one when there is none. */
export async function makeModel(
  flags: ModelFlags,
  options: { idleTimeoutMs: number; maxRetries: number },
): Promise<Model> {
  const { resolveModelConfig, createModel } = await import("../llm/index.ts");
  const config = resolveModelConfig({ flags, env: process.env });
  return createModel(config, {
    retry: { idleTimeoutMs: options.idleTimeoutMs, maxAttempts: options.maxRetries + 1 },
  });
}
