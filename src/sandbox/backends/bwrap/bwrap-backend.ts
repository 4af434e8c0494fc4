/**
 * The bubblewrap backend: Linux namespaces, the default on Linux. Each `exec` starts a fresh bwrap
 * (≈ 5–6 ms, ≈ 3× a bare spawn) with the profile described in `bwrap-args.ts`: no network, no host
 * processes, no host environment, a read-only minimal system, the workspace read-write at its host
 * path, an unprivileged uid. Limits: a cgroup per session (memory incl. swap, pids, optional CPU
 * quota), RLIMIT_CPU per command (`ulimit -t` in the launcher shell), a wall timeout that SIGKILLs
 * bwrap (with `--die-with-parent` and a PID namespace the whole tree dies, `setsid` children
 * included), and capped output.
 *
 * Launchers. Each command runs from a launcher shell spawned AHEAD of it (`buildLauncher`): it joins
 * the session's cgroups and sets the CPU limit while the previous command runs or the model thinks,
 * then waits for its go. A cgroup join costs an RCU grace period (7–14 ms here) whenever no other
 * migration happened just before — i.e. for almost every command an agent issues; done ahead of time,
 * it leaves the command's path. One idle launcher per session counts against its pids limit.
 *
 * Toolchain and dependencies. Commands see the spec's `toolchain` (its folders read-only at their own
 * paths, its PATH, its variables through the secret filter) and the repository's dependency folders
 * read-only over their places in the workspace; without a toolchain they get the system PATH only —
 * never the Node that runs Entourage.
 *
 * State between commands lives in the workspace and in HOME (a private per-session host directory bound
 * at /tmp/home); `/tmp` itself is a fresh tmpfs per command.
 *
 * Cgroups. With `limits: "enforce"` (the default) the backend reports itself unavailable when it cannot
 * create cgroups (not root, no delegation) rather than run commands without the memory and process
 * limits every spec carries; `limits: "best-effort"` runs without them and says so in probe() details.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, unlink } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { errorMessage, SystemError, UserError } from "../../../core/index.ts";
import type {
  BackendProbe,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
} from "../../sandbox.ts";
import { sandboxEnv } from "../../sandbox.ts";
import { toolchainEnv } from "../../toolchain.ts";
import { createCgroupSession, destroyCgroupSession, readOomKills } from "../shared/cgroup.ts";
import { type CgroupLimits, type CgroupSessionPlan, neededControllers } from "../shared/cgroup-plan.ts";
import {
  checkDependencies,
  checkToolchainDirs,
  mountPoint,
  prepareMountpoints,
} from "../shared/dependency-mounts.ts";
import { type DiskQuota, diskQuota, underDiskQuota } from "../shared/disk-quota.ts";
import { abortedBeforeStart, assertCanExec } from "../shared/exec-guard.ts";
import { lendWorkspace } from "../shared/ownership.ts";
import { type PreparedProcess, runProcess } from "../shared/run-process.ts";
import { checkWorkspace, resolveCwd, type WorkspacePaths } from "../shared/workspace-path.ts";
import {
  type BwrapProfile,
  buildBwrapArgs,
  buildLauncher,
  generateEtcFiles,
  launchScript,
} from "./bwrap-args.ts";
import {
  type BwrapBackendOptions,
  HOME_INSIDE,
  type Host,
  killGroup,
  makeProfile,
  probeHost,
} from "./bwrap-host.ts";
import { sessionName, stateDirPrefix, trackSession } from "./stale-sessions.ts";
import { prepareEtcDir } from "./system-entries.ts";

export type { BwrapBackendOptions };

type Probed = { probe: BackendProbe; host?: Host };

/**
 * This process's probes, keyed by what a probe depends on (the options, PATH, the uid). A run asks three times
 * (the default choice, the chosen backend, its sandbox) and a server once per run: one probe (bwrap --version,
 * a cgroup, a smoke test: ≈ 40 ms) answers them all. Only a host that works is remembered: one that does not
 * is probed again, so installing bubblewrap under a running server is seen at its next run. Sessions that dead
 * processes left behind are swept at that one probe (a server sweeps when it starts, a CLI run at each run).
 */
const probes = new Map<string, Promise<Probed>>();

function probeCached(options: BwrapBackendOptions, policy: "enforce" | "best-effort"): Promise<Probed> {
  const key = JSON.stringify([options, policy, process.env.PATH ?? "", process.getuid?.()]);
  let probed = probes.get(key);
  if (!probed) {
    probed = probeHost(options, policy);
    probes.set(key, probed);
    probed.then(
      (result) => {
        if (!result.probe.available) probes.delete(key);
      },
      () => probes.delete(key),
    );
  }
  return probed;
}

/** Creates the bwrap backend. Probing is done once per process and cached (`probeCached`). */
export function createBwrapBackend(options: BwrapBackendOptions = {}): SandboxBackend {
  const policy = options.limits ?? "enforce";
  let probed: Promise<Probed> | undefined;
  const probeOnce = () => {
    probed ??= probeCached(options, policy);
    return probed;
  };

  return {
    name: "bwrap",
    isolated: true,
    async probe() {
      return (await probeOnce()).probe;
    },
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const { probe, host } = await probeOnce();
      if (!probe.available || !host) {
        throw new UserError(
          "sandbox_unavailable",
          `The bwrap sandbox is not available: ${probe.reason ?? "unknown reason"}`,
        );
      }
      const paths = checkWorkspace(spec.workspace);
      const limits: CgroupLimits = {
        memoryBytes: spec.limits.memoryBytes,
        pids: spec.limits.pids,
        cpuQuota: options.cpuQuota,
      };
      if (!host.cgroup.layout) {
        if (policy === "enforce" && neededControllers(limits).length > 0) {
          throw new UserError(
            "sandbox_limits",
            `Cannot enforce the sandbox's memory/process limits: ${host.cgroup.reason}`,
          );
        }
        limits.memoryBytes = limits.pids = limits.cpuQuota = undefined;
      }
      return BwrapSandbox.create(spec, paths, host, limits, options.hostname ?? "entourage");
    },
  };
}

class BwrapSandbox implements Sandbox {
  readonly backend = "bwrap" as const;
  readonly isolated = true;
  readonly spec: SandboxSpec;
  readonly runAs?: { uid: number; gid: number };
  readonly #paths: WorkspacePaths;
  readonly #host: Host;
  readonly #profile: BwrapProfile;
  readonly #stateDir: string;
  readonly #cgroup: CgroupSessionPlan | undefined;
  readonly #returnWorkspace: (() => void) | undefined;
  readonly #untrack: () => void;
  readonly #running = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  /** The launcher kept ready for the next command (see `buildLauncher`). */
  #ready: Launcher | undefined;
  #launches = 0;
  #destroyed: Promise<void> | undefined;
  /** Commands write the workspace and the private HOME (host folders); /tmp is a tmpfs in memory. */
  readonly #quota: DiskQuota | undefined;

  private constructor(init: {
    spec: SandboxSpec;
    paths: WorkspacePaths;
    host: Host;
    profile: BwrapProfile;
    stateDir: string;
    cgroup: CgroupSessionPlan | undefined;
    returnWorkspace: (() => void) | undefined;
  }) {
    this.spec = init.spec;
    this.#paths = init.paths;
    this.#host = init.host;
    this.#profile = init.profile;
    this.#stateDir = init.stateDir;
    this.#cgroup = init.cgroup;
    this.#returnWorkspace = init.returnWorkspace;
    if (init.host.identity.kind === "setpriv") this.runAs = { ...init.host.user };
    this.#untrack = trackSession({ leaves: init.cgroup?.leaves ?? [], stateDir: init.stateDir });
    this.#quota = diskQuota(init.spec.limits.diskBytes, [init.paths.real, init.profile.home.source]);
    this.#ready ??= this.#spawnLauncher();
  }

  static async create(
    spec: SandboxSpec,
    paths: WorkspacePaths,
    host: Host,
    limits: CgroupLimits,
    hostname: string,
  ): Promise<BwrapSandbox> {
    const toolchainDirs = checkToolchainDirs(spec.toolchain);
    const dependencies = checkDependencies(spec.dependencies, { workspace: paths.real });
    const session = randomBytes(6).toString("hex");
    const stateDir = await mkdtemp(path.join(tmpdir(), stateDirPrefix(session)));
    let cgroup: CgroupSessionPlan | undefined;
    let returnWorkspace: (() => void) | undefined;
    try {
      // Readable by the sandbox uid: it holds only generated files and the private HOME.
      chmodSync(stateDir, 0o755);
      // Launch scripts: root's (or this user's) only, and never bound into a sandbox.
      await mkdir(path.join(stateDir, "launch"), { mode: 0o700 });
      const etcDir = path.join(stateDir, "etc");
      const etcBinds = prepareEtcDir(
        etcDir,
        generateEtcFiles({ ...host.user, home: HOME_INSIDE, hostname }),
        spec.network,
      );
      const home = path.join(stateDir, "home");
      await mkdir(home, { mode: 0o700 });
      // A nested mount's parents (packages/a of packages/a/node_modules) are made here, not by bwrap, which
      // would make them as root, closed to the sandbox uid; made before the workspace is lent, they are the
      // sandbox user's like the rest. The mount points themselves bwrap makes per command, as before.
      const parents = dependencies
        .map((d) => ({ path: path.posix.dirname(d.path) }))
        .filter((d) => d.path !== ".");
      const removeMountpoints = prepareMountpoints(paths.real, parents);
      const lent =
        host.identity.kind === "setpriv"
          ? lendWorkspace(paths.real, host.user.uid, host.user.gid)
          : undefined;
      if (host.identity.kind === "setpriv") chownSync(home, host.user.uid, host.user.gid);
      returnWorkspace = () => {
        lent?.();
        removeMountpoints();
      };
      if (host.cgroup.layout && neededControllers(limits).length > 0) {
        cgroup = await createCgroupSession(host.cgroup.layout, sessionName(session), limits);
      }
      const profile = makeProfile(host, {
        workspace: { source: paths.real, dest: paths.path },
        home: { source: home, dest: HOME_INSIDE },
        etc: { source: etcDir, binds: etcBinds },
        network: spec.network,
        hostname,
        toolchainDirs,
        dependencies: dependencies.map((d) => ({ source: d.source, dest: path.join(paths.path, d.path) })),
      });
      return new BwrapSandbox({ spec, paths, host, profile, stateDir, cgroup, returnWorkspace });
    } catch (error) {
      returnWorkspace?.();
      if (cgroup) await destroyCgroupSession(cgroup).catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
      throw new SystemError("sandbox_create", `Could not create the bwrap sandbox: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    assertCanExec(this.#destroyed !== undefined, argv);
    return underDiskQuota(this.#quota, options, (opts) => this.#exec(argv, opts));
  }

  async #exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const cwd = resolveCwd(this.#paths, options.cwd);
    const env = sandboxEnv(
      HOME_INSIDE,
      this.spec.toolchain ? { PATH: this.spec.toolchain.path } : undefined,
      toolchainEnv(this.spec.toolchain, HOME_INSIDE),
      this.spec.env,
      options.env,
    );
    if (options.signal?.aborted) return abortedBeforeStart();
    // A dependency's place the agent turned into a symlink or a file is not mounted through.
    const profile: BwrapProfile = {
      ...this.#profile,
      dependencies: this.#profile.dependencies.filter(
        (d) => mountPoint(this.#paths.real, path.relative(this.#paths.path, d.dest)) !== "blocked",
      ),
    };
    const launcher = this.#takeLauncher();
    try {
      writeFileSync(
        launcher.script,
        launchScript([this.#host.bwrap, ...buildBwrapArgs(profile, { argv, cwd, env })]),
        { mode: 0o600 },
      );
    } catch (error) {
      void stopLauncher(launcher);
      throw new SystemError("sandbox_exec", `Could not start the command: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const oomBefore = this.#cgroup ? readOomKills(this.#cgroup) : 0;

    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const done = runProcess({
      file: this.#host.bwrap,
      args: [],
      env: {},
      prepared: launcher.prepared,
      stdin: options.stdin,
      timeoutMs: options.timeoutMs ?? this.spec.limits.timeoutMs,
      outputBytes: this.spec.limits.outputBytes,
      signal,
      onOutput: options.onOutput,
      // bwrap leads its own process group; its death takes the PID namespace (the whole tree) with it.
      killTree: (pid) => killGroup(pid),
    });
    // Not awaited: the result does not wait for the script's removal.
    void done.finally(() => unlink(launcher.script).catch(() => {}));
    // The command has its go: the next launcher joins the cgroups while this one runs. (Measured here:
    // spawning it before the go delays this command; spawning it after the command ended leaves the
    // next command waiting for it more often.)
    this.#ready ??= this.#spawnLauncher();
    const entry = { abort, done };
    this.#running.add(entry);
    try {
      const result = await done;
      const oomKilled =
        this.#cgroup !== undefined && result.exitCode === 137 && readOomKills(this.#cgroup) > oomBefore;
      let exitCode = result.exitCode;
      // bwrap itself execs the command when it runs unprivileged and reports a missing one as exit 1.
      if (exitCode === 1 && /bwrap: execvp [^\n]*: No such file or directory\n?$/.test(result.output))
        exitCode = 127;
      return {
        exitCode: result.timedOut ? 124 : result.aborted ? 137 : exitCode,
        timedOut: result.timedOut,
        killed: !result.timedOut && (result.aborted || oomKilled || exitCode === 137),
        output: result.output,
        outputTruncated: result.outputTruncated,
        durationMs: result.durationMs,
      };
    } finally {
      this.#running.delete(entry);
    }
  }

  /** Spawns a launcher that joins the session's cgroups now and waits for its command (idle: unref'd). */
  #spawnLauncher(): Launcher {
    const script = path.join(this.#stateDir, "launch", `${++this.#launches}.sh`);
    const argv = buildLauncher({
      cgroupProcs: this.#cgroup?.procs ?? [],
      cpuSeconds: this.spec.limits.cpuSeconds,
      fileBytes: this.spec.limits.diskBytes,
      sh: this.#host.sh,
      bash: this.#host.bash,
      script,
    });
    const child = spawn(argv[0]!, argv.slice(1), {
      env: {},
      detached: true,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    });
    const launcher: Launcher = {
      child,
      script,
      exited: false,
      prepared: {
        child,
        start: () => {
          const go = child.stdio[3] as Socket | null;
          go?.ref();
          go?.end("\n");
        },
      },
    };
    child.once("exit", () => {
      launcher.exited = true;
    });
    child.once("error", () => {
      launcher.exited = true;
    });
    for (const stream of child.stdio) (stream as Socket | null)?.on("error", () => {});
    setIdle(launcher, true);
    return launcher;
  }

  /** The ready launcher, or a fresh one if it died meanwhile (killed by an OOM, or never started). */
  #takeLauncher(): Launcher {
    let launcher = this.#ready;
    if (
      !launcher ||
      launcher.exited ||
      launcher.child.pid === undefined ||
      launcher.child.exitCode !== null
    ) {
      if (launcher) void stopLauncher(launcher);
      launcher = this.#spawnLauncher();
    }
    this.#ready = undefined;
    setIdle(launcher, false);
    return launcher;
  }

  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const running = [...this.#running];
      for (const { abort } of running) abort.abort();
      const ready = this.#ready;
      this.#ready = undefined;
      if (ready) await stopLauncher(ready);
      await Promise.allSettled(running.map((r) => r.done));
      if (this.#cgroup) await destroyCgroupSession(this.#cgroup).catch(() => {});
      this.#returnWorkspace?.();
      await rm(this.#stateDir, { recursive: true, force: true });
      this.#untrack();
    })();
    return this.#destroyed;
  }
}

interface Launcher {
  child: ChildProcess;
  /** Where the host writes the command's launch script before starting it. */
  script: string;
  exited: boolean;
  prepared: PreparedProcess;
}

/** An idle launcher must not keep this process alive; a running one must. */
function setIdle(launcher: Launcher, idle: boolean): void {
  const handles = [launcher.child, ...(launcher.child.stdio as (Socket | null)[])];
  for (const handle of handles) {
    if (idle) handle?.unref();
    else handle?.ref();
  }
}

/** Kills an unused launcher (it has not run anything) and waits for it to go. */
async function stopLauncher(launcher: Launcher): Promise<void> {
  const gone = launcher.exited
    ? Promise.resolve()
    : new Promise<void>((resolve) => launcher.child.once("exit", () => resolve()));
  launcher.child.ref(); // wait for it to go, even when nothing else keeps this process alive
  if (launcher.child.pid !== undefined) killGroup(launcher.child.pid);
  for (const stream of launcher.child.stdio) (stream as Socket | null)?.destroy();
  await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  await unlink(launcher.script).catch(() => {});
}
