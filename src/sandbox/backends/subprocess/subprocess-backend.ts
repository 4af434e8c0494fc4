/**
 * The subprocess backend. IT DOES NOT ISOLATE ANYTHING: commands run as the user running Entourage, on
 * the host, with the host's filesystem, network, processes and tools. A command can read `~/.ssh`,
 * delete files outside the workspace and talk to the internet. It exists for development and for the
 * bundled demo on machines without bubblewrap or Docker, and every view labels it (`isolated: false`).
 *
 * What it does do, so trusted commands behave well:
 * - runs in the workspace (a relative `cwd` inside it; `..` and symlink escapes refused);
 * - a minimal environment: `sandboxEnv()` with a private HOME (a per-session temporary directory, so
 *   tools neither read `~/.npmrc` tokens nor write into the real home) and the spec's toolchain PATH
 *   and variables (without a toolchain, the host's PATH) — never with the Node running Entourage put
 *   first. API keys and other secret-looking variables never pass;
 * - the spec's dependency folders LINKED into the workspace (a symlink where nothing is; removed on
 *   destroy): without mounts there is no read-only view, so commands could write into the user's
 *   `node_modules` through the link;
 * - its own process group per command: a wall timeout, an abort or the end of the command SIGKILLs the
 *   group. Every process also inherits `ENTOURAGE_SANDBOX_EXEC=<session>.<exec>`, and a /proc sweep
 *   kills what escaped the group (`setsid`, double forks). Not caught without namespaces: a process that
 *   clears or replaces its environment (`env -i`, some daemons), one that changes uid (setuid helpers),
 *   and anything it started through another service (systemd, at, a Docker daemon);
 * - `cpuSeconds` through `prlimit --cpu` (RLIMIT_CPU, per process) and the disk quota through `prlimit
 *   --fsize` (no file past it) when util-linux's prlimit exists; the quota's supervisor
 *   (`shared/disk-quota.ts`) measures the workspace and the private HOME while a command runs.
 *   `pids` through a pids cgroup per session when this process may create one (`process-cap.ts`: root or a
 *   delegated cgroup), else not enforced (the probe says why); `memoryBytes` is NOT enforced.
 */

import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, readlinkSync, rmdirSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { errorMessage } from "../../../core/index.ts";
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
import {
  type CheckedDependency,
  checkDependencies,
  checkToolchainDirs,
  mountPoint,
} from "../shared/dependency-mounts.ts";
import { type DiskQuota, diskQuota, underDiskQuota } from "../shared/disk-quota.ts";
import { assertCanExec } from "../shared/exec-guard.ts";
import { findExecutable } from "../shared/find-executable.ts";
import { runProcess } from "../shared/run-process.ts";
import { checkWorkspace, resolveCwd, type WorkspacePaths } from "../shared/workspace-path.ts";
import {
  createProcessCap,
  joinScript,
  type ProcessCap,
  processCapSupport,
  releaseProcessCap,
} from "./process-cap.ts";
import { EXEC_MARKER_VAR, killProcessGroup, killProcessTree } from "./process-sweep.ts";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Private homes of sandboxes not destroyed yet: removed when the process exits, whoever forgot. */
const liveHomes = new Set<string>();
let exitHook = false;
function trackHome(home: string): void {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const dir of liveHomes) rmSync(dir, { recursive: true, force: true });
    });
  }
  liveHomes.add(home);
}

export interface SubprocessBackendOptions {
  /** The host PATH commands get when the spec has no toolchain. Default: this process's PATH. */
  hostPath?: string;
}

/** Creates the subprocess backend (no isolation; see the module doc). */
export function createSubprocessBackend(options: SubprocessBackendOptions = {}): SandboxBackend {
  const hostPath = options.hostPath ?? process.env.PATH ?? DEFAULT_PATH;
  const prlimit = findExecutable("prlimit", hostPath);
  return {
    name: "subprocess",
    isolated: false,
    async probe(): Promise<BackendProbe> {
      return {
        available: true,
        details: {
          isolation: "none: commands run as this user on the host",
          cpuSeconds: prlimit
            ? `enforced with ${prlimit} --cpu`
            : "not enforced (util-linux prlimit not found)",
          memoryBytes: "not enforced",
          pids: await processCapSupport().then((support) =>
            support.ok
              ? `enforced with a pids cgroup per session (${support.layout})`
              : `not enforced (${support.reason})`,
          ),
        },
      };
    },
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const paths = checkWorkspace(spec.workspace);
      const dependencies = checkDependencies(spec.dependencies, { workspace: paths.real });
      checkToolchainDirs(spec.toolchain); // nothing is bound here, but a spec naming HOME is refused alike
      const home = await mkdtemp(path.join(tmpdir(), "entourage-home-"));
      trackHome(home);
      const links = linkDependencies(paths.real, dependencies);
      const session = randomBytes(6).toString("hex");
      const cap = await createProcessCap(session, spec.limits.pids).catch((error: unknown) => ({
        reason: errorMessage(error),
      }));
      return new SubprocessSandbox(spec, paths, home, spec.toolchain?.path ?? hostPath, prlimit, links, {
        session,
        cap,
      });
    },
  };
}

class SubprocessSandbox implements Sandbox {
  readonly backend = "subprocess" as const;
  readonly isolated = false;
  readonly spec: SandboxSpec;
  readonly #paths: WorkspacePaths;
  readonly #home: string;
  readonly #hostPath: string;
  readonly #prlimit: string | undefined;
  readonly #links: DependencyLink[];
  readonly #session: string;
  readonly #cap: ProcessCap;
  readonly #running = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  #execCount = 0;
  #destroyed: Promise<void> | undefined;
  readonly #quota: DiskQuota | undefined;

  constructor(
    spec: SandboxSpec,
    paths: WorkspacePaths,
    home: string,
    hostPath: string,
    prlimit: string | undefined,
    links: DependencyLink[],
    limits: { session: string; cap: ProcessCap },
  ) {
    this.#session = limits.session;
    this.#cap = limits.cap;
    this.spec = spec;
    this.#links = links;
    this.#paths = paths;
    this.#home = home;
    this.#hostPath = hostPath;
    this.#prlimit = prlimit;
    // Commands write the workspace and their private HOME.
    this.#quota = diskQuota(spec.limits.diskBytes, [paths.real, home]);
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    assertCanExec(this.#destroyed !== undefined, argv);
    return underDiskQuota(this.#quota, options, (opts) => this.#exec(argv, opts));
  }

  async #exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const cwd = resolveCwd(this.#paths, options.cwd);
    const id = ++this.#execCount;
    const needle = `${EXEC_MARKER_VAR}=${this.#session}.${id}`;
    const env = sandboxEnv(
      this.#home,
      toolchainEnv(this.spec.toolchain, this.#home),
      this.spec.env,
      options.env,
    );
    env.PATH = this.#hostPath;
    env[EXEC_MARKER_VAR] = `${this.#session}.${id}`;

    const { cpuSeconds, diskBytes } = this.spec.limits;
    const limits = [
      ...(cpuSeconds !== undefined ? [`--cpu=${Math.ceil(cpuSeconds)}:${Math.ceil(cpuSeconds)}`] : []),
      ...(diskBytes !== undefined ? [`--fsize=${Math.floor(diskBytes)}:${Math.floor(diskBytes)}`] : []),
    ];
    // What the command creates in the run's workspace and HOME (under ENTOURAGE_HOME) is the owner's alone.
    // With a process cap, the shell joins the session's pids cgroup first: all the command starts is counted.
    const join = joinScript("plan" in this.#cap ? this.#cap.plan : undefined);
    const private_ = ["/bin/sh", "-c", `${join}umask 077 && exec "$@"`, "entourage-sandbox", ...argv];
    const command =
      limits.length > 0 && this.#prlimit ? [this.#prlimit, ...limits, "--", ...private_] : private_;

    // One controller per exec so destroy() can abort what is still running.
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const done = runProcess({
      file: command[0]!,
      args: command.slice(1),
      cwd,
      env,
      stdin: options.stdin,
      timeoutMs: options.timeoutMs ?? this.spec.limits.timeoutMs,
      outputBytes: this.spec.limits.outputBytes,
      signal,
      onOutput: options.onOutput,
      // After a normal exit, reap the group only: the /proc sweep costs a few ms and runs on timeout,
      // abort and destroy, where escaped processes matter.
      killTree: (pid, reason) => (reason === "exit" ? killProcessGroup(pid) : killProcessTree(pid, needle)),
    });
    const entry = { abort, done };
    this.#running.add(entry);
    try {
      const result = await done;
      const killedBySignal = result.signal === "SIGKILL" || result.signal === "SIGXCPU";
      return {
        exitCode: result.timedOut ? 124 : result.aborted ? 137 : result.exitCode,
        timedOut: result.timedOut,
        killed: !result.timedOut && (result.aborted || killedBySignal),
        output: result.output,
        outputTruncated: result.outputTruncated,
        durationMs: result.durationMs,
      };
    } finally {
      this.#running.delete(entry);
    }
  }

  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const running = [...this.#running];
      for (const { abort } of running) abort.abort();
      await Promise.allSettled(running.map((r) => r.done));
      killProcessTree(undefined, `${EXEC_MARKER_VAR}=${this.#session}.`);
      unlinkDependencies(this.#links);
      await releaseProcessCap(this.#cap);
      await rm(this.#home, { recursive: true, force: true });
      liveHomes.delete(this.#home);
    })();
    return this.#destroyed;
  }
}

interface DependencyLink {
  link: string;
  target: string;
  /** Folders made for the link (deepest first), removed again when empty. */
  madeDirs: string[];
}

/**
 * Links each dependency folder into the workspace where nothing is at its place yet (a folder or file
 * already there — the run's own install — is left alone). Returns what to remove on destroy.
 */
function linkDependencies(workspaceReal: string, deps: CheckedDependency[]): DependencyLink[] {
  const links: DependencyLink[] = [];
  for (const dep of deps) {
    if (mountPoint(workspaceReal, dep.path) !== "absent") continue;
    const link = path.join(workspaceReal, dep.path);
    const madeDirs: string[] = [];
    let dir = path.dirname(link);
    const missing: string[] = [];
    while (dir !== workspaceReal && !exists(dir)) {
      missing.push(dir);
      dir = path.dirname(dir);
    }
    for (const made of missing.reverse()) {
      mkdirSync(made);
      madeDirs.unshift(made);
    }
    symlinkSync(dep.source, link, "dir");
    links.push({ link, target: dep.source, madeDirs });
  }
  return links;
}

/** Removes the links this sandbox made, only where they are still the same links. */
function unlinkDependencies(links: DependencyLink[]): void {
  for (const { link, target, madeDirs } of links) {
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) unlinkSync(link);
    } catch {
      // already gone
    }
    for (const dir of madeDirs) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty: the commands put something there
      }
    }
  }
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
