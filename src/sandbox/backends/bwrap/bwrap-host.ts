/**
 * What the bwrap backend learns about the host once, at its first probe: bwrap and its version, the
 * shells, the identity commands run as, the system folders to bind, cgroup support — and a smoke test
 * that one real sandbox starts. The backend (bwrap-backend.ts) creates sandboxes from it.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { errorMessage } from "../../../core/index.ts";
import type { BackendProbe } from "../../sandbox.ts";
import { sandboxEnv } from "../../sandbox.ts";
import {
  createCgroupSession,
  destroyCgroupSession,
  detectCgroupLayout,
  prepareCgroupBase,
} from "../shared/cgroup.ts";
import {
  type CgroupController,
  type CgroupLayout,
  describeLayout,
  missingControllers,
} from "../shared/cgroup-plan.ts";
import { findExecutable } from "../shared/find-executable.ts";
import { runProcess } from "../shared/run-process.ts";
import { isWithin } from "../shared/workspace-path.ts";
import {
  type BwrapProfile,
  buildBwrapArgs,
  generateEtcFiles,
  type SandboxIdentity,
  type SystemEntry,
} from "./bwrap-args.ts";
import { sweepStaleSessions } from "./stale-sessions.ts";
import { detectSystemEntries, prepareEtcDir } from "./system-entries.ts";

const execFileAsync = promisify(execFile);

/** Where commands see their HOME (a private per-session host folder). */
export const HOME_INSIDE = "/tmp/home";

export interface BwrapBackendOptions {
  /** Host uid/gid commands run as when Entourage runs as root. Default 65532:65532 (no login user has it). */
  sandboxUser?: { uid: number; gid: number };
  /** "enforce" (default): unavailable without cgroups. "best-effort": run without memory/pids limits. */
  limits?: "enforce" | "best-effort";
  /** CPU bandwidth per session in cores (cgroup CFS quota). Default: none. */
  cpuQuota?: number;
  /** Where cgroup hierarchies are mounted. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  hostname?: string;
}

export interface Host {
  bwrap: string;
  bwrapVersion: string;
  sh: string;
  /** The launcher's shell when present: it closes inherited descriptors (see `buildLauncher`). */
  bash: string | undefined;
  identity: SandboxIdentity;
  /** uid/gid as seen by files the commands create. */
  user: { uid: number; gid: number };
  system: SystemEntry[];
  cgroup: { layout?: CgroupLayout; reason?: string };
}

export async function probeHost(
  options: BwrapBackendOptions,
  policy: "enforce" | "best-effort",
): Promise<{ probe: BackendProbe; host?: Host }> {
  if (process.platform !== "linux") return { probe: { available: false, reason: "bubblewrap needs Linux" } };
  const bwrap = findExecutable("bwrap");
  if (!bwrap) {
    return {
      probe: {
        available: false,
        reason:
          "bubblewrap is not installed: apt-get install bubblewrap (Debian/Ubuntu), dnf install bubblewrap (Fedora)",
      },
    };
  }
  const details: Record<string, string> = { bwrap };
  // Asked while the rest of the probe runs (it is only shown); a very old bwrap without --version is
  // "unknown", and the smoke test below decides.
  const version = execFileAsync(bwrap, ["--version"], { encoding: "utf8", env: {} }).then(
    (out) => out.stdout.trim(),
    () => "unknown",
  );

  const isRoot = process.getuid?.() === 0;
  let identity: SandboxIdentity = { kind: "userns" };
  let user = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  if (isRoot) {
    const setpriv = findExecutable("setpriv");
    if (!setpriv) {
      return {
        probe: {
          available: false,
          reason:
            "running as root needs setpriv (util-linux) to drop to an unprivileged uid: apt-get install util-linux",
          details,
        },
      };
    }
    user = options.sandboxUser ?? { uid: 65532, gid: 65532 };
    identity = { kind: "setpriv", uid: user.uid, gid: user.gid, setpriv };
    details.identity = `uid ${user.uid} gid ${user.gid} (setpriv; no capabilities)`;
  } else {
    details.identity = `uid ${user.uid} (this user, in a user namespace)`;
  }

  details.cpuSeconds = "RLIMIT_CPU per process (ulimit -t in the launcher shell)";
  const bash = findExecutable("bash", "/usr/bin:/bin");
  details.inheritedFds = bash
    ? "closed before bwrap (bash launcher)"
    : "NOT closed: no bash; descriptors this process inherited without close-on-exec reach commands";
  const system = detectSystemEntries();

  const cgroup = await probeCgroups(options);
  details.cgroup = cgroup.layout ? describeLayout(cgroup.layout) : `unavailable: ${cgroup.reason}`;
  const swept = sweepStaleSessions(cgroup.layout);
  if (swept > 0) details.staleSessionsRemoved = String(swept);
  details.limits = policy;

  const host: Host = {
    bwrap,
    bwrapVersion: "unknown",
    sh: "/bin/sh",
    bash,
    identity,
    user,
    system,
    cgroup,
  };

  // Smoke test: one real `true` in a throwaway workspace, without limits.
  const [smoke, bwrapVersion] = await Promise.all([smokeTest(host), version]);
  host.bwrapVersion = bwrapVersion;
  details.version = bwrapVersion;
  if (smoke) return { probe: { available: false, reason: smoke, details } };
  if (!cgroup.layout && policy === "enforce") {
    return {
      probe: {
        available: false,
        reason:
          `cgroups are not usable (${cgroup.reason}), so the memory and process limits cannot be enforced. ` +
          "Run Entourage as root or inside a delegated cgroup (systemd-run --user --scope -p Delegate=yes …), " +
          'or set the bwrap sandbox limits to "best-effort".',
        details,
      },
    };
  }
  return { probe: { available: true, details }, host };
}

async function probeCgroups(
  options: BwrapBackendOptions,
): Promise<{ layout?: CgroupLayout; reason?: string }> {
  const found = detectCgroupLayout(options.cgroupRoot);
  if (!found.layout) return found;
  const wanted: CgroupController[] = [
    "memory",
    "pids",
    ...(options.cpuQuota !== undefined ? (["cpu"] as const) : []),
  ];
  const missing = missingControllers(found.layout, wanted);
  if (missing.length > 0) return { reason: `controllers not available: ${missing.join(", ")}` };
  try {
    await prepareCgroupBase(found.layout, wanted);
    const plan = await createCgroupSession(found.layout, `probe-${randomBytes(4).toString("hex")}`, {
      memoryBytes: 64 * 1024 * 1024,
      pids: 16,
      cpuQuota: options.cpuQuota,
    });
    await destroyCgroupSession(plan);
    return found;
  } catch (error) {
    return { reason: `cannot create cgroups: ${errorMessage(error)}` };
  }
}

async function smokeTest(host: Host): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(tmpdir(), "entourage-bwrap-probe-"));
  try {
    chmodSync(dir, 0o755);
    const etc = path.join(dir, "etc");
    const binds = prepareEtcDir(
      etc,
      generateEtcFiles({ ...host.user, home: HOME_INSIDE, hostname: "probe" }),
      "off",
    );
    const workspace = { source: dir, dest: dir };
    const profile = makeProfile(host, {
      workspace,
      home: { source: dir, dest: HOME_INSIDE },
      etc: { source: etc, binds },
      network: "off",
      hostname: "probe",
      toolchainDirs: [],
      dependencies: [],
    });
    const args = buildBwrapArgs(profile, { argv: ["true"], cwd: dir, env: sandboxEnv(HOME_INSIDE) });
    const result = await runProcess({
      file: host.bwrap,
      args,
      env: {},
      timeoutMs: 10_000,
      outputBytes: 4096,
      killTree: (pid) => killGroup(pid),
    });
    if (result.exitCode === 0) return undefined;
    return (
      `bubblewrap is installed but cannot create a sandbox here (exit ${result.exitCode}: ${result.output.trim()}). ` +
      "Unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces, " +
      "or an AppArmor userns restriction); running as root avoids them."
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function makeProfile(host: Host, session: Omit<BwrapProfile, "system" | "identity">): BwrapProfile {
  return {
    ...session,
    // Folders the system binds already hold are not bound twice.
    toolchainDirs: session.toolchainDirs.filter(
      (dir) => !host.system.some((e) => e.kind === "ro-bind" && isWithin(e.path, dir)),
    ),
    system: host.system,
    identity: host.identity,
  };
}

/** SIGKILL a process group and its leader (a bwrap and everything in its PID namespace). */
export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // gone
    }
  }
}
