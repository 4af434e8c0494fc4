/**
 * The Sandbox port: the only way agent-issued commands run. Every backend (subprocess, bwrap, docker, …)
 * implements it and passes the one conformance suite in `sandbox.conformance.ts`.
 *
 * Files are not read or written through the sandbox: every backend mounts the same host directory (the
 * run's workspace), so the workspace layer reads and writes it host-side with its own confinement rules
 * (no `..`, no absolute paths, never following symlinks out). The sandbox only executes.
 */

import type { SandboxBackendName } from "../core/vocabulary.ts";

export type { SandboxBackendName };

export interface SandboxLimits {
  /** Memory limit in bytes, swap included. Undefined: no limit beyond the backend's default. */
  memoryBytes?: number;
  /** Maximum number of processes/threads. */
  pids?: number;
  /** CPU time per command, in seconds (RLIMIT_CPU or cgroup quota). */
  cpuSeconds?: number;
  /** Default wall-clock timeout per command, in ms. `exec` may override it. */
  timeoutMs: number;
  /** Output kept per command (stdout + stderr); the rest is dropped and `outputTruncated` is set. */
  outputBytes: number;
  /**
   * Disk quota in bytes: what the workspace and the sandbox's own writable folders (HOME) may hold. A
   * command that takes them past it is stopped (`ExecResult.diskQuota`), and no single file may grow past
   * it (RLIMIT_FSIZE). Undefined: no quota.
   */
  diskBytes?: number;
}

export interface SandboxSpec {
  /** Absolute host path of the workspace; mounted read-write at the same path or at `/workspace`. */
  workspace: string;
  /** Network access. Off by default and for every run unless the user turns it on. */
  network: "off" | "on";
  limits: SandboxLimits;
  /**
   * Extra environment variables for every command, on top of the backend's minimal set (PATH, HOME,
   * LANG, TERM). The host environment is never inherited; keys that look like secrets are refused.
   */
  env?: Record<string, string>;
  /**
   * The repository's git-ignored dependency and build folders (`node_modules`, `.venv`, `target`, …) as the
   * user has them: each host folder `source` appears read-only at `path` (relative to the workspace root),
   * so tests find their dependencies without copying them. Backends that cannot mount (subprocess) link.
   */
  dependencies?: readonly DependencyMount[];
  /**
   * The user's own toolchain (their `node`, `python3`, `go`, `cargo`), never the runtime Entourage runs on
   * unless they choose it: host folders bound read-only at their own path, the PATH commands get, and the
   * variables the toolchains need (`RUSTUP_HOME`, `GOROOT`, …). Host-toolchain backends (bwrap,
   * subprocess) use it; image backends (docker) use the image's toolchain.
   */
  toolchain?: Toolchain;
  /** Container image (docker) or rootfs; backend-specific. */
  image?: string;
  /** OCI runtime (docker), e.g. `runsc` for gVisor. */
  runtime?: string;
}

export interface DependencyMount {
  /** Absolute host path of the folder (in the user's checkout). */
  source: string;
  /** Where it appears, relative to the workspace root (e.g. `node_modules`, `packages/a/node_modules`). */
  path: string;
}

export interface Toolchain {
  /** Absolute host folders bound read-only at the same path (e.g. `~/.cargo`, `~/.rustup`, `/usr/local/go`). */
  dirs: readonly string[];
  /** The PATH every command gets. */
  path: string;
  /** Variables the toolchains need; the secret filter of `env` applies. */
  env?: Record<string, string>;
}

export interface ExecOptions {
  /** Working directory relative to the workspace root. Default: the root. */
  cwd?: string;
  /** Extra variables for this command only (same secret filter as the spec). */
  env?: Record<string, string>;
  /** Wall-clock timeout; the whole process tree is killed when it expires. */
  timeoutMs?: number;
  stdin?: string;
  signal?: AbortSignal;
  /** Called with each chunk as it arrives, for live views. */
  onOutput?: (chunk: OutputChunk) => void;
}

export interface OutputChunk {
  stream: "stdout" | "stderr";
  text: string;
}

export interface ExecResult {
  /** Exit code; 124 on timeout and 137 when killed (memory, abort), like coreutils `timeout` and shells. */
  exitCode: number;
  timedOut: boolean;
  /** Killed by a signal we did not send for a timeout: OOM, abort, pids limit. */
  killed: boolean;
  /** stdout and stderr interleaved in arrival order, capped at `limits.outputBytes`. */
  output: string;
  outputTruncated: boolean;
  durationMs: number;
  /** Set when the command left the workspace over `limits.diskBytes` (then it was stopped, if still running). */
  diskQuota?: DiskQuotaBreach;
}

export interface DiskQuotaBreach {
  /** Bytes in use when the quota was found exceeded (blocks on disk, each hard link once). */
  usedBytes: number;
  limitBytes: number;
  /** True when the command was still running and was killed for it, or a write of it hit the file size limit. */
  stopped: boolean;
}

export interface Sandbox {
  readonly backend: SandboxBackendName;
  /** False for backends that do not isolate anything (subprocess). Shown in every view. */
  readonly isolated: boolean;
  readonly spec: SandboxSpec;
  /**
   * The host uid/gid commands run as, when it differs from this process's (bwrap started as root runs
   * commands as an unprivileged uid and lends it the workspace for the session). Host-side code that
   * creates files in the workspace while the sandbox lives must give them to this owner (lchown), or
   * commands cannot change them. Undefined: commands run as this process's user.
   */
  readonly runAs?: { uid: number; gid: number };
  /** Runs `argv` (no shell unless argv asks for one) inside the sandbox. Never rejects for a non-zero exit. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Kills anything still running and releases resources (cgroups, containers). Idempotent. */
  destroy(): Promise<void>;
}

export interface BackendProbe {
  available: boolean;
  /** Why not, and what to do about it, when unavailable. */
  reason?: string;
  details?: Record<string, string>;
}

export interface SandboxBackend {
  readonly name: SandboxBackendName;
  readonly isolated: boolean;
  probe(): Promise<BackendProbe>;
  create(spec: SandboxSpec): Promise<Sandbox>;
}

/** Environment variable names that must never enter a sandbox, whatever the configuration says. */
export const SECRET_ENV_PATTERN =
  /(API_KEY|_TOKEN|SECRET|PASSWORD|CREDENTIAL|PRIVATE_KEY)|^AWS_|^GOOGLE_APPLICATION/i;

/** The base environment of every command: nothing from the host but a PATH, a HOME and a locale. */
export function sandboxEnv(
  home: string,
  ...extra: (Record<string, string> | undefined)[]
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    TERM: "dumb",
    CI: "1",
  };
  for (const vars of extra) {
    for (const [key, value] of Object.entries(vars ?? {})) {
      if (SECRET_ENV_PATTERN.test(key)) continue;
      env[key] = value;
    }
  }
  return env;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 2 * 1024 ** 3,
  pids: 512,
  cpuSeconds: 600,
  timeoutMs: 120_000,
  outputBytes: 1024 * 1024,
};
