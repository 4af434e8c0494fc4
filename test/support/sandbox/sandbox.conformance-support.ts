/**
 * The one conformance and containment suite every sandbox backend must pass. A backend's test file
 * calls `runSandboxConformance(name, makeBackend, { isolated, escapes })` (like langgraphjs's checkpoint
 * validation spec with one initializer per backend).
 *
 * Behaviour (every backend): exit codes, live ordered output, cwd confinement, stdin, a non-inherited
 * environment, the output cap, timeouts and aborts that kill the whole tree, idempotent destroy, files
 * shared with the host.
 *
 * Containment (every backend, one test per probe of issue 4): each probe tries one escape and returns
 * its evidence (empty: contained). A backend must contain every probe except those it declares in
 * `escapes`, and each declared escape must be OBSERVED: the subprocess backend runs the whole suite
 * declaring its known escapes, which proves every probe can see an escape when there is one. Probes
 * that would harm the host when they escape (a real fork bomb, an unbounded memory hog) have a bounded
 * twin that shows the escape; the harmful version runs only where containment is expected.
 *
 * A backend whose dependency is missing here (bwrap not installed, no Docker daemon) makes every test
 * FAIL when `ENTOURAGE_CI=1` and skip with the probe's reason otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import {
  DEFAULT_LIMITS,
  type SandboxBackend,
  type SandboxLimits,
  type SandboxSpec,
} from "../../../src/sandbox/sandbox.ts";

/** The containment probes (issue 4's list), one test each. */
export const CONTAINMENT_PROBES = [
  "write-outside",
  "read-secret",
  "host-env",
  "symlink-secret",
  "proc-environ",
  "host-processes",
  "host-tcp",
  "dns",
  "docker-socket",
  "remount-root",
  "root-or-caps",
  "fork-bomb",
  "memory-bomb",
  "cpu-time",
  "wall-timeout",
  "output-flood",
  "workspace-ownership",
  "host-symlink-follow",
  "inherited-fds",
  "dependency-write",
  "entourage-runtime-path",
  "credentials-bound",
] as const;
export type ContainmentProbe = (typeof CONTAINMENT_PROBES)[number];

export interface ConformanceOptions {
  /** Whether the backend claims isolation (checked against the backend's own flag). */
  isolated: boolean;
  /**
   * Probes this backend is known to fail (the subprocess backend's escapes). Each must be observed
   * escaping; every other probe must hold. An isolated backend declares none.
   */
  escapes?: readonly ContainmentProbe[];
  /**
   * How the backend honours `spec.dependencies`: "read-only" mounts run the dependency block
   * (`sandbox.dependencies.ts`): visible at their path, every write refused. Unset: not checked.
   */
  dependencyMounts?: "read-only";
}

export const LIMITS: SandboxLimits = {
  memoryBytes: 512 * 1024 ** 2,
  pids: 256,
  cpuSeconds: 30,
  timeoutMs: 15_000,
  outputBytes: 64 * 1024,
};

/** Tight limits for the runaway-command tests. */
export const TIGHT: SandboxLimits = {
  memoryBytes: 96 * 1024 ** 2,
  pids: 24,
  cpuSeconds: 1,
  timeoutMs: 15_000,
  outputBytes: 64 * 1024,
};

export function spec(workspace: string, limits: SandboxLimits, env?: Record<string, string>): SandboxSpec {
  return { workspace, network: "off", limits, env };
}

/** Proves nothing of a killed command survives: heartbeat files stop changing and no marker process remains. */
export async function assertTreeGone(workspace: string, beats: string[], marker: string): Promise<void> {
  const read = () => beats.map((file) => readOptional(path.join(workspace, file)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const first = read();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(read(), first, "a background process is still writing its heartbeat");
  for (const [i, file] of beats.entries()) {
    assert.notEqual(first[i], undefined, `${file} was never written: the test did not start its children`);
    rmSync(path.join(workspace, file), { force: true });
  }
  const find = () =>
    readdirSync("/proc").filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      return readOptional(`/proc/${entry}/cmdline`)?.includes(marker) ?? false;
    });
  // A killed tree of many processes takes a moment to be reaped on a loaded machine: survivors are
  // processes still there after 10 s, not ones the kernel is still tearing down.
  let survivors = find();
  for (let waited = 0; survivors.length > 0 && waited < 10_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    survivors = find();
  }
  for (const pid of survivors) process.kill(Number(pid), "SIGKILL"); // do not leave them behind a failure
  assert.deepEqual(survivors, [], `processes survived: ${survivors.join(", ")}`);
}

export function listOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Descriptors above 2 of this process without close-on-exec: every child it spawns inherits them. */
export function inheritableFds(): number[] {
  const O_CLOEXEC = 0o2000000;
  return readdirSync("/proc/self/fd")
    .map(Number)
    .filter((fd) => {
      if (fd <= 2) return false;
      const flags = /^flags:\s+([0-7]+)/m.exec(readOptional(`/proc/self/fdinfo/${fd}`) ?? "")?.[1];
      return flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0;
    });
}

/** Pids of host processes whose command line contains `marker`. */
export function processesWith(marker: string): string[] {
  return readdirSync("/proc").filter(
    (entry) => /^\d+$/.test(entry) && (readOptional(`/proc/${entry}/cmdline`)?.includes(marker) ?? false),
  );
}

/** A host process (`sleep`) holding a fake API key in its environment, for the sandbox to go after. */
export function startVictim(
  marker: string,
  fakeKey: string,
): { pid: number; alive: () => boolean; stop: () => void } {
  const child: ChildProcess = spawn("sleep", [marker], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OPENAI_API_KEY: fakeKey },
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  if (child.pid === undefined) throw new Error("could not start the victim process");
  const pid = child.pid;
  return {
    pid,
    alive: () => !exited && child.exitCode === null && child.signalCode === null,
    stop: () => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}

export interface FakeDns {
  port: number;
  queries(): number;
  close(): Promise<void>;
}

/** A DNS server on the host's 127.0.0.1 answering every query with 192.0.2.1, counting queries. */
export async function startFakeDns(): Promise<FakeDns> {
  const socket: Socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", (msg, peer) => {
    queries++;
    if (msg.length < 13) return;
    let end = 12;
    while (end < msg.length && msg[end] !== 0) end += msg[end]! + 1;
    end += 5; // the root label, QTYPE and QCLASS
    const header = Buffer.from([msg[0]!, msg[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    socket.send(Buffer.concat([header, msg.subarray(12, end), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    queries: () => queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A test whose real dependency is missing: skipped with the reason, or failed when ENTOURAGE_CI=1. */
export function missingDependency(t: TestContext, reason: string): void {
  if (process.env.ENTOURAGE_CI === "1") assert.fail(`${reason} (ENTOURAGE_CI=1: a missing dependency fails)`);
  t.skip(reason);
}

/**
 * For a backend's own tests: whether it is available (else skip or, in CI, fail), temporary workspaces,
 * and a spec with the default limits. Call `before`/`after` from the suite.
 */
export function backendFixtures(name: string, backend: SandboxBackend) {
  let reason: string | undefined;
  const dirs: string[] = [];
  return {
    /** `detail`: more about why it may be missing (e.g. an image build that failed). */
    async before(detail?: string): Promise<void> {
      const probe = await backend.probe();
      if (!probe.available) reason = [probe.reason ?? "unavailable", detail].filter(Boolean).join("; ");
    },
    after(): void {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
    /** True when the backend works here; otherwise the test is skipped (or fails under ENTOURAGE_CI=1). */
    available(t: TestContext): boolean {
      if (reason === undefined) return true;
      missingDependency(t, `${name} unavailable: ${reason}`);
      return false;
    },
    workspace(): string {
      const dir = mkdtempSync(path.join(tmpdir(), `entourage-${name}-`));
      dirs.push(dir);
      return dir;
    },
    spec(dir: string, over: Partial<SandboxSpec> = {}): SandboxSpec {
      return { workspace: dir, network: "off", limits: { ...DEFAULT_LIMITS, timeoutMs: 20_000 }, ...over };
    },
  };
}
