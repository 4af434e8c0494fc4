/**
 * The docker backend: one container per sandbox session, commands through the Engine API's exec
 * (dockerode; DOCKER_HOST or /var/run/docker.sock).
 *
 * The container: `network none` (always — this backend never creates or joins a network),
 * memory with swap included (`MemorySwap` = `Memory`), a pids limit, optional CPU bandwidth, every
 * capability dropped, `no-new-privileges`, a read-only root filesystem with tmpfs `/tmp` and HOME
 * (`/tmp/home`, kept for the session), the workspace bind-mounted read-write at its host path (paths in
 * output match the host's), an optional OCI runtime (`spec.runtime`, e.g. runsc). Its pid 1 is a
 * keeper shell as the commands' uid (`keeperCommand`: it reaps orphans and, signalled, ends a fork bomb).
 *
 * Identity. Entourage running as root: commands run as 65532:65532 (`entourage` in the image) and the
 * workspace is lent to that uid for the session — chowned on create, handed back to its owner on destroy
 * (files the commands created included; root keeps full access meanwhile). Entourage running as a
 * normal user: commands run as that user's uid/gid, and files need no change of owner.
 *
 * Each command runs under the wrapper in `exec-script.ts` (RLIMIT_CPU, its own process group recorded
 * in the container's /tmp, leftovers killed when it ends). Timeout and abort run a second exec that
 * kills the group and every process marked with the command's id (or, when it is the only running
 * command, every process of the sandbox uid). Exit codes come from the exec's inspect: 124 on timeout,
 * 137 when killed (the OOM killer included: an exec'd process's OOM kill does not set `OOMKilled`).
 *
 * Dependencies (`spec.dependencies`: the repository's git-ignored `node_modules`, `.venv`, …) are bind-mounted
 * read-only at their path inside the workspace (`dependency-mounts.ts`); missing mountpoints are created in
 * the workspace and removed again on destroy. When commands run as the sandbox uid, the folder's group is
 * added to their groups (never root's), and a folder that uid cannot read is refused with the fix.
 *
 * The toolchain is the image's (`spec.toolchain`, the host's toolchains, is for host backends): see
 * `image-recipes.ts` for the default and the language images.
 *
 * Only environment from `sandboxEnv()` (and the image's own ENV) reaches a command: the container itself
 * gets none.
 */

import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { errorMessage, processHost, SystemError, UserError } from "../../../core/index.ts";
import type {
  BackendProbe,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
} from "../../sandbox.ts";
import { sandboxEnv } from "../../sandbox.ts";
import { diskQuota, underDiskQuota } from "../shared/disk-quota.ts";
import { assertCanExec } from "../shared/exec-guard.ts";
import { OutputBuffer } from "../shared/output-buffer.ts";
import { lendWorkspace } from "../shared/ownership.ts";
import { checkWorkspace, isWithin, resolveCwd, type WorkspacePaths } from "../shared/workspace-path.ts";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  type DockerConnection,
  describeEngine,
  isNotFound,
  isRemoteEngine,
  LABEL_IMAGE_NODE,
  LABEL_OWNER_CONTAINER,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_SANDBOX,
  LABEL_SESSION,
  LABEL_WORKSPACE,
  pingDocker,
} from "./client.ts";
import { containerLimits, isGvisor } from "./container-limits.ts";
import { containerMounts } from "./container-mounts.ts";
import { demuxOutput } from "./demux.ts";
import {
  assertReadableBy,
  type PlannedMount,
  planDependencyMounts,
  prepareMountpoints,
} from "./dependency-mounts.ts";
import { buildHint, checkRuntime, exitCodeOf, ownContainerId, pruneStaleSandboxes } from "./engine-checks.ts";
import { EXEC_MARKER_VAR, keeperCommand, wrapCommand } from "./exec-script.ts";
import { addedGroups, type Identity, identity } from "./identity.ts";
import { IMAGE_SANDBOX_USER, inspectImage } from "./image.ts";
import { IMAGE_LANGUAGES, IMAGE_RECIPES, resolveImageName } from "./image-recipes.ts";
import { KILL_GRACE_MS, killInContainer } from "./kill.ts";
import { reviveIfDead, sleep, whenStopped } from "./revive.ts";
import {
  strandedNote,
  WorkspaceSync,
  type WorkspaceTransfer,
  workspaceTransferFromEnv,
} from "./workspace-sync.ts";

const HOME_INSIDE = IMAGE_SANDBOX_USER.home;
export interface DockerBackendOptions {
  /** Client or connection options. Default: DOCKER_HOST, else /var/run/docker.sock. */
  docker?: DockerConnection;
  /** Image used when the spec names none. Default `entourage/sandbox:bookworm`. */
  image?: string;
  /** uid/gid commands run as when Entourage runs as root. Default 65532:65532 (`entourage` in the image). */
  sandboxUser?: { uid: number; gid: number };
  /** CPU bandwidth per sandbox in cores (`NanoCpus`). Default: none. */
  cpus?: number;
  /** Remove containers left by Entourage processes on this host that no longer exist. Default true. */
  pruneStale?: boolean;
  /**
   * How the workspace reaches the container: `mount` (a bind mount: the engine sees this machine's paths) or
   * `copy` (the archive endpoints, around each command). Default: `ENTOURAGE_DOCKER_WORKSPACE`, else `copy` for
   * a remote engine (TCP, SSH) and `mount` for a local socket. A process in a container that talks to the
   * host's engine through a mounted socket needs `copy`: the engine cannot see the container's paths.
   */
  workspace?: WorkspaceTransfer;
  /** OCI runtime of every sandbox whose spec names none (`runsc` for gVisor). Default: the engine's (runc). */
  runtime?: string;
  /** The name sandboxes report (`gvisor` when the runtime is runsc). Default `docker`. */
  name?: "docker" | "gvisor";
  /** A host shared object bound read-only at `target` and preloaded into every command (`LD_PRELOAD`); local engines only. */
  preload?: { source: string; target: string };
}

/** Creates the docker backend. */
export function createDockerBackend(options: DockerBackendOptions = {}): SandboxBackend {
  let client: Promise<Docker> | undefined;
  const connect = () => {
    client ??= connectDocker(options.docker);
    return client;
  };
  const defaultImage = options.image ?? DEFAULT_SANDBOX_IMAGE;
  const copies = (docker: Docker) =>
    (options.workspace ?? workspaceTransferFromEnv() ?? (isRemoteEngine(docker) ? "copy" : "mount")) ===
    "copy";
  let pruned: Promise<void> | undefined;
  const name = options.name ?? "docker";
  return {
    name,
    isolated: true,
    async probe(): Promise<BackendProbe> {
      const docker = await connect();
      const ping = await pingDocker(docker);
      const details: Record<string, string> = { engine: describeEngine(docker, copies(docker)) };
      if (!ping.ok) return { available: false, reason: ping.reason, details };
      details.daemon = `${ping.version.Version} (API ${ping.version.ApiVersion})`;
      const user = identity(options);
      details.identity = user.lend
        ? `uid ${user.uid} gid ${user.gid} (the workspace is lent to it for the session)`
        : `uid ${user.uid} gid ${user.gid} (this user)`;
      details.network = "none";
      let image: Docker.ImageInspectInfo | undefined;
      try {
        image = await inspectImage(docker, defaultImage);
      } catch (error) {
        return {
          available: false,
          reason: `cannot inspect ${defaultImage}: ${errorMessage(error)}`,
          details,
        };
      }
      if (!image) {
        return {
          available: false,
          reason: `the image ${defaultImage} is not present: ${buildHint(defaultImage)} (≈ 35 s, no registry needed)`,
          details,
        };
      }
      details.image = `${defaultImage} ${image.Id.slice(7, 19)} (${Math.round(image.Size / 1e6)} MB${
        image.Config?.Labels?.[LABEL_IMAGE_NODE] ? `, Node ${image.Config.Labels[LABEL_IMAGE_NODE]}` : ""
      })`;
      const languages: string[] = [];
      for (const language of IMAGE_LANGUAGES) {
        const present = await inspectImage(docker, IMAGE_RECIPES[language].image).catch(() => undefined);
        languages.push(`${language} ${present ? "built" : "not built"}`);
      }
      details["language images"] =
        `${languages.join(", ")} (entourage sandbox build-image ${IMAGE_LANGUAGES.join("|")}|all)`;
      return { available: true, details };
    },

    async create(spec: SandboxSpec): Promise<Sandbox> {
      if (spec.network !== "off") {
        throw new UserError(
          "sandbox_network",
          "The docker sandbox runs without a network (network none); it cannot give commands network access. Use the bwrap backend for runs that need the network.",
        );
      }
      const paths = checkWorkspace(spec.workspace);
      if (isWithin(HOME_INSIDE, paths.path)) {
        throw new UserError(
          "sandbox_workspace",
          `The workspace ${paths.path} collides with the sandbox's HOME (${HOME_INSIDE}); use another directory.`,
        );
      }
      const dependencies = planDependencyMounts(paths, spec.dependencies, homedir());
      const user = identity(options);
      if (user.lend) {
        for (const mount of dependencies)
          assertReadableBy(mount, { uid: user.uid, groups: addedGroups(user, dependencies) });
      }
      const docker = await connect();
      const ping = await pingDocker(docker);
      if (!ping.ok)
        throw new UserError("sandbox_unavailable", `The docker sandbox is not available: ${ping.reason}.`);
      if (options.pruneStale !== false) {
        pruned ??= pruneStaleSandboxes(docker).then(
          () => {},
          () => {},
        );
        await pruned;
      }
      // A recipe name (`python`, `go`, …) means that recipe's image.
      const image = spec.image ? resolveImageName(spec.image) : defaultImage;
      const runtime = spec.runtime ?? options.runtime;
      if (runtime) await checkRuntime(docker, runtime);
      return DockerSandbox.create(
        docker,
        runtime === spec.runtime ? spec : { ...spec, runtime },
        name,
        paths,
        image,
        user,
        options.cpus,
        dependencies,
        copies(docker),
        copies(docker) ? undefined : options.preload,
      );
    },
  };
}
interface Running {
  id: string;
  kill: (reason: "abort") => void;
  done: Promise<unknown>;
}

class DockerSandbox implements Sandbox {
  readonly backend: "docker" | "gvisor";
  readonly isolated = true;
  readonly spec: SandboxSpec;
  readonly runAs?: { uid: number; gid: number };
  readonly #docker: Docker;
  readonly #container: Docker.Container;
  readonly #paths: WorkspacePaths;
  readonly #user: string;
  readonly #session: string;
  readonly #returnWorkspace: (() => void) | undefined;
  readonly #running = new Set<Running>();
  /** Set for a remote engine: the workspace travels to the container and back around each command. */
  readonly #sync: WorkspaceSync | undefined;
  readonly #preload: string | undefined;
  #died: Promise<void>; // settles when the container stops (re-armed on a restart; destroy aborts it)
  readonly #watching = new AbortController();
  #execCount = 0;
  #destroyed: Promise<void> | undefined;

  private constructor(init: {
    name: "docker" | "gvisor";
    docker: Docker;
    container: Docker.Container;
    spec: SandboxSpec;
    paths: WorkspacePaths;
    user: Identity;
    session: string;
    returnWorkspace: (() => void) | undefined;
    sync: WorkspaceSync | undefined;
    preload: string | undefined;
  }) {
    this.backend = init.name;
    this.#docker = init.docker;
    this.#container = init.container;
    this.spec = init.spec;
    this.#paths = init.paths;
    this.#user = `${init.user.uid}:${init.user.gid}`;
    this.#session = init.session;
    this.#returnWorkspace = init.returnWorkspace;
    this.#sync = init.sync;
    this.#preload = init.preload;
    this.#died = whenStopped(this.#container, this.#watching.signal);
    // On a remote engine the host workspace keeps its owner: only the container's copy is the sandbox uid's.
    if (init.user.lend && !init.sync) this.runAs = { uid: init.user.uid, gid: init.user.gid };
  }

  /** The container's id (for tests and diagnostics). */
  get containerId(): string {
    return this.#container.id;
  }

  static async create(
    docker: Docker,
    spec: SandboxSpec,
    name: "docker" | "gvisor",
    paths: WorkspacePaths,
    image: string,
    user: Identity,
    cpus: number | undefined,
    dependencies: readonly PlannedMount[],
    /** The workspace travels through the archive endpoints (a remote engine, or ENTOURAGE_DOCKER_WORKSPACE=copy). */
    copied: boolean,
    preload: DockerBackendOptions["preload"],
  ): Promise<DockerSandbox> {
    const session = randomBytes(6).toString("hex");
    let returnWorkspace: (() => void) | undefined;
    let removeMountpoints: (() => void) | undefined;
    let container: Docker.Container | undefined;
    try {
      // Before lending: mountpoints created here are lent (and handed back) with the rest of the workspace.
      // On a remote engine too: a command may start in a folder that holds a dependency (resolveCwd checks the host).
      removeMountpoints = prepareMountpoints(paths.real, dependencies);
      if (user.lend && !copied) returnWorkspace = lendWorkspace(paths.real, user.uid, user.gid);
      const groups = addedGroups(user, dependencies);
      // The keeper is pid 1, as the commands' uid: their `kill -9 -1` spares it (a container's init cannot
      // be SIGKILLed from inside), and it ends a fork bomb that left no slot for a kill exec (exec-script.ts).
      const tmpfs = "rw,exec,nosuid,nodev";
      const sized = spec.limits.diskBytes !== undefined ? `,size=${Math.floor(spec.limits.diskBytes)}` : "";
      container = await docker.createContainer({
        name: `entourage-sandbox-${session}`,
        Image: image,
        // gVisor does not signal at RLIMIT_CPU: its keeper enforces cpuSeconds (exec-script.ts).
        Cmd: keeperCommand(isGvisor(spec.runtime) ? spec.limits.cpuSeconds : undefined),
        User: `${user.uid}:${user.gid}`,
        // Not the workspace (each exec sets its own directory).
        WorkingDir: "/",
        Hostname: "entourage",
        Env: [],
        NetworkDisabled: true,
        Labels: {
          [LABEL_SANDBOX]: "container",
          [LABEL_SESSION]: session,
          [LABEL_OWNER_PID]: String(process.pid),
          [LABEL_OWNER_HOST]: processHost(),
          ...(ownContainerId() ? { [LABEL_OWNER_CONTAINER]: ownContainerId() as string } : {}),
          [LABEL_WORKSPACE]: paths.path,
        },
        HostConfig: {
          NetworkMode: "none",
          // The keeper is init (it reaps orphans): no tini in front of it to take the signal.
          Init: false,
          // runc: memory and pids cgroups; runsc: the pids cap is RLIMIT_NPROC inside gVisor (container-limits.ts).
          ...containerLimits(spec.limits, spec.runtime),
          ...(cpus !== undefined ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          ReadonlyRootfs: true,
          IpcMode: "private",
          Tmpfs: {
            "/tmp": `${tmpfs},mode=1777${sized}`,
            [HOME_INSIDE]: `${tmpfs},mode=0700,uid=${user.uid},gid=${user.gid}${sized}`,
          },
          Mounts: containerMounts(paths, dependencies, copied, preload),
          ...(groups.length > 0 ? { GroupAdd: groups.map(String) } : {}),
          LogConfig: { Type: "none", Config: {} },
          ...(spec.runtime ? { Runtime: spec.runtime } : {}),
        },
      });
      await container.start();
      let sync: WorkspaceSync | undefined;
      if (copied) {
        sync = new WorkspaceSync({
          docker,
          container,
          hostRoot: paths.real,
          containerRoot: paths.path,
          user,
          excluded: dependencies.map((mount) => mount.path.split("\\").join("/")),
        });
        await sync.push();
        await sync.uploadDependencies(dependencies);
        await sync.relist();
      }
      const release = () => {
        removeMountpoints?.();
        returnWorkspace?.();
      };
      return new DockerSandbox({
        name,
        docker,
        container,
        spec,
        paths,
        user,
        session,
        returnWorkspace: release,
        sync,
        preload: preload?.target,
      });
    } catch (error) {
      if (container) await container.remove({ force: true }).catch(() => {});
      removeMountpoints?.();
      returnWorkspace?.();
      if (UserError.isInstance(error)) throw error;
      if (isNotFound(error) && /image/i.test(errorMessage(error))) {
        throw new UserError(
          "sandbox_image",
          `The docker sandbox image ${image} is not present: ${buildHint(image)}.`,
          { cause: error },
        );
      }
      throw new SystemError("sandbox_create", `Could not create the docker sandbox: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    assertCanExec(this.#destroyed !== undefined, argv);
    // The workspace is the one host folder commands write; /tmp and HOME are tmpfs capped at the quota.
    const quota = diskQuota(this.spec.limits.diskBytes, [this.#paths.real]);
    return underDiskQuota(quota, options, (opts) => this.#synced(() => this.#exec(argv, opts)));
  }

  /** On a remote engine: the host's changes go to the container first, the command's come back after it. */
  async #synced(run: () => Promise<ExecResult>): Promise<ExecResult> {
    if (!this.#sync) return run();
    await this.#sync.push();
    let result: ExecResult;
    try {
      result = await run();
    } catch (error) {
      if (!this.#destroyed) await this.#sync.pull().catch(() => {});
      throw error;
    }
    // Whatever the command's end (timeout and kill included), its effects reach the host workspace.
    if (this.#destroyed) return result;
    const stranded = await this.#sync.pull();
    if (stranded.length === 0) return result;
    return { ...result, output: result.output + strandedNote(result.output, stranded) };
  }

  async #exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const cwd = resolveCwd(this.#paths, options.cwd);
    const started = performance.now();
    const output = new OutputBuffer(this.spec.limits.outputBytes, options.onOutput);
    const result = (fields: Pick<ExecResult, "exitCode" | "timedOut" | "killed">): ExecResult => {
      const kept = output.result();
      return {
        ...fields,
        output: kept.output,
        outputTruncated: kept.truncated,
        durationMs: Math.round(performance.now() - started),
      };
    };
    if (options.signal?.aborted) return result({ exitCode: 137, timedOut: false, killed: true });
    const id = `${this.#session}.${++this.#execCount}`;
    const env = sandboxEnv(HOME_INSIDE, this.spec.env, options.env);
    env[EXEC_MARKER_VAR] = id;
    if (this.#preload) env.LD_PRELOAD = this.#preload;
    const hasStdin = options.stdin !== undefined && options.stdin !== "";

    let timedOut = false;
    let aborted = false;
    let killing: Promise<void> | undefined;
    let streamDone: (() => void) | undefined;
    let giveUp: (() => void) | undefined;
    const kill = () => {
      killing ??= this.#kill(id).finally(() => {
        // Whatever the kill exec achieved, wait no longer for the stream (an escaped process may hold it),
        // nor for a daemon that stopped answering.
        setTimeout(() => streamDone?.(), KILL_GRACE_MS).unref();
        setTimeout(() => giveUp?.(), KILL_GRACE_MS + 1000).unref();
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs ?? this.spec.limits.timeoutMs);
    const onAbort = () => {
      if (timedOut) return;
      aborted = true;
      kill();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const killedBy137 = () => result({ exitCode: 137, timedOut: false, killed: true });
    const killedResult = () =>
      timedOut
        ? result({ exitCode: 124, timedOut: true, killed: false })
        : result({ exitCode: 137, timedOut: false, killed: true });

    const run = async (): Promise<ExecResult> => {
      let stream: Duplex | undefined;
      try {
        const create = () =>
          this.#container.exec({
            Cmd: wrapCommand(id, argv, this.spec.limits.cpuSeconds, this.spec.limits.diskBytes),
            Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
            User: this.#user,
            WorkingDir: cwd,
            AttachStdin: hasStdin,
            AttachStdout: true,
            AttachStderr: true,
            Tty: false,
          });
        // A container that died before this command (after the last one ended) is started again first: the
        // command then runs, with the note in its output.
        const exec = await create().catch(async (error: unknown) => {
          if (await this.#revived(output).catch(() => false)) return create();
          throw error;
        });
        stream = (await exec.start({ hijack: true, stdin: hasStdin })) as Duplex;
        const socket = stream;
        const flush = demuxOutput(this.#docker.modem, socket, (name, text) => output.push(name, text));
        await new Promise<void>((resolve) => {
          streamDone = resolve;
          // gVisor's kernel OOM-killed: the exec's stream may stay open; the container's end ends the wait.
          void this.#died.then(() => resolve());
          socket.on("end", resolve);
          socket.on("close", resolve);
          socket.on("error", () => resolve());
          if (hasStdin) socket.write(options.stdin as string);
          // Half-close: the command sees EOF on stdin (nothing is attached when there is no stdin).
          socket.end();
        });
        flush();
        socket.destroy();
        const exitCode = await exitCodeOf(exec).catch(() => undefined);
        if (timedOut || aborted) {
          await this.#revived(output).catch(() => false);
          return killedResult();
        }
        const code = exitCode ?? 137;
        if ((code === 137 || code === 128) && (await this.#revived(output, true))) return killedBy137();
        return result({ exitCode: code, timedOut: false, killed: code === 137 });
      } catch (error) {
        stream?.destroy();
        if (timedOut || aborted || this.#destroyed) return killedResult();
        if (await this.#revived(output).catch(() => false)) return killedBy137();
        throw new SystemError("sandbox_exec", `docker exec failed: ${errorMessage(error)}`, { cause: error });
      }
    };

    const done = Promise.race([
      run(),
      new Promise<ExecResult>((resolve) => {
        giveUp = () => resolve(killedResult());
      }),
    ]);
    const entry: Running = {
      id,
      kill: () => {
        if (!timedOut) aborted = true;
        kill();
      },
      done,
    };
    this.#running.add(entry);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      this.#running.delete(entry);
      if (killing) await killing;
    }
  }

  /** The container died under the command (gVisor's kernel OOM-killed): started again, the note in `output`.
   * `settle`: runsc's exec ends (128, "urpc … EOF") a moment before the engine sees the container stop. */
  async #revived(output: OutputBuffer, settle = false): Promise<boolean> {
    if (this.#destroyed) return false;
    if (settle && isGvisor(this.spec.runtime)) await Promise.race([this.#died, sleep(1000)]);
    const note = await reviveIfDead(this.#container, { ...this.spec.limits, runtime: this.spec.runtime });
    if (note === undefined) return false;
    this.#died = whenStopped(this.#container, this.#watching.signal);
    output.push("stderr", note);
    return true;
  }

  /** Kills command `id`'s processes (all of them when it is the only command). */
  #kill(id: string): Promise<void> {
    return killInContainer(id, {
      container: this.#container,
      user: this.#user,
      scope: this.#running.size <= 1 ? "all" : "exec",
      destroyed: () => this.#destroyed !== undefined,
    });
  }

  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const running = [...this.#running];
      for (const entry of running) entry.kill("abort");
      await Promise.race([
        Promise.allSettled(running.map((r) => r.done)),
        new Promise((resolve) => setTimeout(resolve, KILL_GRACE_MS + 1000).unref()),
      ]);
      this.#watching.abort();
      try {
        await this.#container.remove({ force: true, v: true });
      } catch (error) {
        if (!isNotFound(error) && (error as { statusCode?: number }).statusCode !== 409) {
          this.#returnWorkspace?.();
          throw new SystemError(
            "sandbox_destroy",
            `Could not remove the sandbox container ${this.#container.id.slice(0, 12)}: ${errorMessage(error)}`,
            { cause: error },
          );
        }
      }
      this.#returnWorkspace?.();
    })();
    return this.#destroyed;
  }
}
