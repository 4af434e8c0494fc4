/**
 * Per-command latency of the sandbox backends: median of 200 `true` runs each (timings are printed,
 * never asserted). Run: node test/sandbox/latency.ts
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBwrapBackend, createSubprocessBackend } from "../../src/sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox, type SandboxLimits } from "../../src/sandbox/index.ts";

const RUNS = 200;

async function median(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 10; i++) await run(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const bare = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("true", [], { stdio: ["ignore", "pipe", "pipe"] });
    child.on("error", reject);
    child.on("close", () => resolve());
  });

const workspace = mkdtempSync(path.join(tmpdir(), "entourage-latency-"));
const noLimits: SandboxLimits = { timeoutMs: 10_000, outputBytes: 1 << 20 };
const rows: [string, number][] = [["bare spawn('true')", await median(bare)]];
const cases: [string, () => Promise<Sandbox>][] = [
  [
    "subprocess backend",
    () => createSubprocessBackend().create({ workspace, network: "off", limits: DEFAULT_LIMITS }),
  ],
  [
    "bwrap backend, no limits",
    () => createBwrapBackend().create({ workspace, network: "off", limits: noLimits }),
  ],
  [
    "bwrap backend, DEFAULT_LIMITS (cgroups + RLIMIT_CPU)",
    () => createBwrapBackend().create({ workspace, network: "off", limits: DEFAULT_LIMITS }),
  ],
];
for (const [name, make] of cases) {
  const sandbox = await make();
  rows.push([name, await median(() => sandbox.exec(["true"]))]);
  await sandbox.destroy();
}
rmSync(workspace, { recursive: true, force: true });
const base = rows[0]![1];
console.log(`median of ${RUNS} runs of \`true\`\n`);
for (const [name, ms] of rows)
  console.log(`${name.padEnd(50)} ${ms.toFixed(2).padStart(7)} ms  ${(ms / base).toFixed(1)}×`);
