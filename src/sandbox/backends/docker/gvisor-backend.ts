/**
 * The gvisor backend: the docker backend with the gVisor runtime (`runsc`), so commands run on gVisor's
 * user-space kernel (the Sentry) instead of the host's: a kernel bug reachable from the container's
 * syscalls is gVisor's, not the host's. Everything else is the docker backend's (image, workspace mount,
 * keeper, limits, kill), with the process cap moved inside gVisor (`docker/container-limits.ts`).
 *
 * The probe says more than docker's: whether `runsc` is registered with the engine (its path and
 * arguments), and whether a container really starts on it — the usual failure is a registration without
 * `--network=none`: with the engine's `network none`, runsc 2022 refuses to start ("cannot run with
 * network enabled in root network namespace"), and this backend never wants a network anyway.
 */

import type Docker from "dockerode";
import { errorMessage, processHost } from "../../../core/index.ts";
import type { BackendProbe, Sandbox, SandboxBackend, SandboxSpec } from "../../sandbox.ts";
import {
  connectDocker,
  DEFAULT_SANDBOX_IMAGE,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_SANDBOX,
} from "./client.ts";
import { createDockerBackend, type DockerBackendOptions } from "./docker-backend.ts";
import { STATX_SHIM_TARGET, statxShim } from "./statx-compat.ts";

export const GVISOR_RUNTIME = "runsc";

/** What to put in /etc/docker/daemon.json, for messages and docs. */
export function runtimeRegistration(runtime = GVISOR_RUNTIME): string {
  return `{"runtimes": {"${runtime}": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}}}`;
}

export interface GvisorBackendOptions extends Omit<DockerBackendOptions, "runtime" | "name" | "preload"> {
  /** The runtime's name in the engine's daemon.json. Default `runsc`. */
  runtime?: string;
}

interface RuntimeInfo {
  path?: string;
  runtimeArgs?: string[];
}

/** Creates the gvisor backend. */
export function createGvisorBackend(options: GvisorBackendOptions = {}): SandboxBackend {
  const runtime = options.runtime ?? GVISOR_RUNTIME;
  let shim: ReturnType<typeof statxShim> | undefined;
  let docker: SandboxBackend | undefined;
  // Built on first use (the shim compiles once per machine), not when the CLI lists the backends.
  const inner = () => {
    shim ??= statxShim();
    docker ??= createDockerBackend({
      ...options,
      runtime,
      name: "gvisor",
      ...("path" in shim ? { preload: { source: shim.path, target: STATX_SHIM_TARGET } } : {}),
    });
    return { docker, shim };
  };
  const image = options.image ?? DEFAULT_SANDBOX_IMAGE;
  return {
    name: "gvisor",
    isolated: true,
    async probe(): Promise<BackendProbe> {
      const { docker, shim } = inner();
      const base = await docker.probe();
      if (!base.available) return base;
      const details: Record<string, string> = { ...base.details };
      const client = await connectDocker(options.docker);
      let registered: RuntimeInfo | undefined;
      try {
        const info = (await client.info()) as { Runtimes?: Record<string, RuntimeInfo> };
        registered = info.Runtimes?.[runtime];
        if (!registered) {
          return {
            available: false,
            reason:
              `the OCI runtime "${runtime}" is not registered with the Docker daemon (it has: ${Object.keys(info.Runtimes ?? {}).join(", ") || "none"}). ` +
              `Install gVisor (Debian: apt-get install runsc), add ${runtimeRegistration(runtime)} to /etc/docker/daemon.json, then reload dockerd (kill -HUP its pid)`,
            details,
          };
        }
      } catch (error) {
        return {
          available: false,
          reason: `cannot ask the engine for its runtimes: ${errorMessage(error)}`,
          details,
        };
      }
      details.runtime =
        `${runtime}: ${registered.path ?? "?"} ${(registered.runtimeArgs ?? []).join(" ")}`.trim();
      const started = performance.now();
      const check = await startOnRuntime(client, image, runtime);
      if (!check.ok) {
        const hint = /network enabled in root network namespace/.test(check.reason)
          ? `; add "runtimeArgs": ["--network=none"] to its entry: ${runtimeRegistration(runtime)}`
          : "";
        return {
          available: false,
          reason: `a container does not start on ${runtime}: ${check.reason}${hint}`,
          details,
        };
      }
      details["ls/stat"] =
        "path" in shim
          ? `gVisor 2022 rejects coreutils' AT_NO_AUTOMOUNT; a shim drops it (${shim.path}, preloaded)`
          : `fail in this sandbox: gVisor 2022 rejects coreutils' AT_NO_AUTOMOUNT and the shim is missing: ${shim.reason}`;
      details.limits =
        "pids: RLIMIT_NPROC inside gVisor (the host's pids cgroup holds its kernel's threads); cpuSeconds: the keeper (gVisor never signals at RLIMIT_CPU); memory: the host cgroup holds gVisor's kernel too, so going over kills the sandbox, which is started again and the command told";
      details.exec = `a container on ${runtime} ran in ${Math.round(performance.now() - started)} ms (kernel ${check.kernel})`;
      return { available: true, details };
    },
    create(spec: SandboxSpec): Promise<Sandbox> {
      return inner().docker.create(spec);
    },
  };
}

/**
 * Runs `uname -r` in a throwaway container on `runtime`: gVisor answers with its own kernel version (4.4.0 for
 * the 2022 release), not the host's, which shows the container really ran on it.
 */
async function startOnRuntime(
  docker: Docker,
  image: string,
  runtime: string,
): Promise<{ ok: true; kernel: string } | { ok: false; reason: string }> {
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({
      Image: image,
      Cmd: ["uname", "-r"],
      NetworkDisabled: true,
      Labels: {
        [LABEL_SANDBOX]: "probe",
        [LABEL_OWNER_PID]: String(process.pid),
        [LABEL_OWNER_HOST]: processHost(),
      },
      HostConfig: { NetworkMode: "none", Runtime: runtime, CapDrop: ["ALL"], ReadonlyRootfs: true },
    });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
    // The json-file driver's stream framing: 8-byte headers before each chunk.
    const text = stripFrames(logs).trim();
    if (StatusCode !== 0) return { ok: false, reason: `uname exited ${StatusCode}: ${text}` };
    return { ok: true, kernel: text };
  } catch (error) {
    return { ok: false, reason: errorMessage(error).replace(/\s+/g, " ").trim() };
  } finally {
    await container?.remove({ force: true }).catch(() => {});
  }
}

function stripFrames(buffer: Buffer): string {
  let out = "";
  let at = 0;
  while (at + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(at + 4);
    out += buffer.subarray(at + 8, at + 8 + size).toString("utf8");
    at += 8 + size;
  }
  return out || buffer.toString("utf8");
}
