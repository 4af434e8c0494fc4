/**
 * Sandbox benchmark for `npm run bench`: per-command latency of every backend next to a bare
 * `spawn('sh', ['-c', 'true'])` measured in the same run (and, for docker, next to the Engine API's own
 * exec round trip in the same container; gvisor likewise, on runsc), plus sandbox create/destroy times. A backend that is not
 * available gets a row saying why; then the docker backend on a remote engine beside the local one
 * (sandbox-remote.ts). Timings are printed, never asserted.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { errorMessage } from "../src/core/index.ts";
import { connectDocker } from "../src/sandbox/backends/docker/client.ts";
import {
  createBwrapBackend,
  createDockerBackend,
  createGvisorBackend,
  createSubprocessBackend,
} from "../src/sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox, type SandboxBackend, type SandboxSpec } from "../src/sandbox/index.ts";
import { remoteSandboxBench } from "./sandbox-remote.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const EXEC_RUNS = 100;
const WARMUP = 10;
const CREATE_RUNS = { subprocess: 30, bwrap: 30, docker: 10, gvisor: 10 } as const;
const GAP_MS = 100;
const GAP_RUNS = 30;

interface Stats {
  p50: number;
  p95: number;
}

function summarize(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { p50: at(50), p95: at(95) };
}

const bareSamples: number[] = [];

/**
 * Times `run`, alternating each run with a bare spawn so that both see the same machine load (other
 * processes come and go); returns its stats and those of the bare spawns taken alongside.
 */
async function sample(
  runs: number,
  run: () => Promise<unknown>,
  gapMs = 0,
): Promise<{ stats: Stats; bare: Stats }> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  const bare: number[] = [];
  const pause = () => (gapMs > 0 ? new Promise((resolve) => setTimeout(resolve, gapMs)) : undefined);
  for (let i = 0; i < runs; i++) {
    await pause();
    let start = performance.now();
    await bareSpawn();
    bare.push(performance.now() - start);
    await pause();
    start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  bareSamples.push(...bare);
  return { stats: summarize(times), bare: summarize(bare) };
}

/** The baseline: what any command costs without a sandbox (pipes attached, like the backends). */
function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", "true"], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end();
    child.on("error", reject);
    child.on("close", () => resolve());
  });
}

/** One `true` through the Engine API directly (create exec, attach, wait for the stream, inspect). */
async function rawDockerExec(container: Docker.Container): Promise<void> {
  const exec = await container.exec({ Cmd: ["true"], AttachStdout: true, AttachStderr: true });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  await new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
    stream.resume();
  });
  await exec.inspect();
}

const ms = (value: number) => `${value.toFixed(2)} ms`;

export async function sandboxBench(table: Table): Promise<void> {
  const workspace = mkdtempSync(path.join(tmpdir(), "entourage-bench-sandbox-"));
  const spec: SandboxSpec = { workspace, network: "off", limits: DEFAULT_LIMITS };
  const started = performance.now();
  try {
    for (let i = 0; i < WARMUP; i++) await bareSpawn();
    const latency: Row[] = [];
    const lifecycle: Row[] = [];
    const row = (command: string, { stats, bare }: { stats: Stats; bare: Stats }) =>
      latency.push({
        command,
        p50: ms(stats.p50),
        p95: ms(stats.p95),
        "bare p50 alongside": ms(bare.p50),
        "p50 ratio": `${(stats.p50 / bare.p50).toFixed(2)}× bare`,
      });

    const backends: [keyof typeof CREATE_RUNS, SandboxBackend, string?][] = [
      ["subprocess", createSubprocessBackend()],
      ["bwrap", createBwrapBackend(), "DEFAULT_LIMITS: cgroups, RLIMIT_CPU, setpriv"],
      ["docker", createDockerBackend()],
      ["gvisor", createGvisorBackend(), "docker on runsc, ptrace platform"],
    ];
    for (const [name, backend, note] of backends) {
      const probe = await backend.probe();
      if (!probe.available) {
        const why = `unavailable: ${probe.reason ?? "probe failed"}`;
        latency.push({ command: `${name} backend`, p50: "—", p95: "—", "p50 ratio": why });
        lifecycle.push({ backend: name, create: "—", destroy: "—", runs: why });
        continue;
      }
      try {
        const sandbox = await backend.create(spec);
        try {
          const measured = await sample(EXEC_RUNS, () => sandbox.exec(["true"]));
          row(`${name} backend exec(['true'])${note ? ` (${note})` : ""}`, measured);
          if (name === "bwrap") {
            // Commands an agent issues come seconds apart: with idle time in between, the kernel's cgroup
            // migration waits for a full RCU grace period (see buildLauncher).
            row(
              `bwrap backend exec(['true']), ${GAP_MS} ms between commands (${GAP_RUNS} runs)`,
              await sample(GAP_RUNS, () => sandbox.exec(["true"]), GAP_MS),
            );
            const plain = await createBwrapBackend({ limits: "best-effort" }).create({
              ...spec,
              limits: { timeoutMs: DEFAULT_LIMITS.timeoutMs, outputBytes: DEFAULT_LIMITS.outputBytes },
            });
            try {
              row(
                "bwrap backend exec(['true']) (no memory/pids/CPU limits)",
                await sample(EXEC_RUNS, () => plain.exec(["true"])),
              );
            } finally {
              await plain.destroy();
            }
          }
          if (name === "docker" || name === "gvisor") {
            const container = (sandbox as unknown as { containerId: string }).containerId;
            const raw = (await connectDocker()).getContainer(container);
            const api = await sample(EXEC_RUNS, () => rawDockerExec(raw));
            row(
              `${name === "gvisor" ? "runsc" : "docker"} Engine API exec 'true' (raw, same container)`,
              api,
            );
            latency[latency.length - 2]!["p50 ratio"] +=
              ` = ${(measured.stats.p50 / api.stats.p50).toFixed(2)}× raw API`;
          }
        } finally {
          await sandbox.destroy();
        }
        const creates: number[] = [];
        const destroys: number[] = [];
        for (let i = 0; i < CREATE_RUNS[name]; i++) {
          let t = performance.now();
          const sb: Sandbox = await backend.create(spec);
          creates.push(performance.now() - t);
          t = performance.now();
          await sb.destroy();
          destroys.push(performance.now() - t);
        }
        const c = summarize(creates);
        const d = summarize(destroys);
        lifecycle.push({
          backend: name,
          create: `${ms(c.p50)} (p95 ${ms(c.p95)})`,
          destroy: `${ms(d.p50)} (p95 ${ms(d.p95)})`,
          runs: String(CREATE_RUNS[name]),
        });
      } catch (error) {
        const why = `failed: ${errorMessage(error)}`;
        latency.push({ command: `${name} backend`, p50: "—", p95: "—", "p50 ratio": why });
        lifecycle.push({ backend: name, create: "—", destroy: "—", runs: why });
      }
    }
    const bare = summarize(bareSamples);
    latency.unshift({
      command: "bare spawn('sh', ['-c', 'true']) (all samples)",
      p50: ms(bare.p50),
      p95: ms(bare.p95),
      "bare p50 alongside": "",
      "p50 ratio": "1.00× bare",
    });
    table(
      `Sandbox exec latency (\`true\`; ${EXEC_RUNS} runs after ${WARMUP} warm-up, each next to a bare spawn; ` +
        "targets: bwrap p50 ≤ 3× bare, docker and gvisor ≤ 1.5× the raw Engine API exec)",
      latency,
    );
    table("Sandbox create / destroy (p50, DEFAULT_LIMITS)", lifecycle);
    await remoteSandboxBench(table);
    console.log(`\n(sandbox benchmark: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}
