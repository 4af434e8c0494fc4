/**
 * `npm run bench`: the engine's own speed, printed as tables with a baseline measured in the same run.
 * Timings here never gate anything; they are for people.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dashboardBench } from "./dashboard.ts";
import { engineBench } from "./engine.ts";
import { firstTestRunBench } from "./first-test-run.ts";
import { orchestrationBench } from "./orchestration.ts";
import { sandboxBench } from "./sandbox.ts";
import { serverBench } from "./server.ts";
import { startupBench } from "./startup.ts";
import { storeBackendsBench } from "./store-backends.ts";
import { printTable as table } from "./table.ts";
import { workersBench } from "./workers.ts";
import { workspaceSetupBench } from "./workspace-setup.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function stats(samples: number[]): { median: number; p95: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

const fmtMs = (ms: number) => `${ms.toFixed(1)} ms`;

// ---------------------------------------------------------------------------------------------------
// 3. CLI start-up next to `node -e 0`.

function timeCommand(args: string[], runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`);
    samples.push(performance.now() - t0);
  }
  return stats(samples).median;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "entourage-bench-"));
  try {
    await engineBench(table);
    await storeBackendsBench(table);
    await workersBench(table);

    const bin = new URL("../bin/entourage.js", import.meta.url).pathname;
    const RUNS = 20;
    const baseline = timeCommand(["-e", "0"], RUNS);
    const version = timeCommand([bin, "--version"], RUNS);
    const help = timeCommand([bin, "--help"], RUNS);
    table(`CLI start-up (median of ${RUNS}; target: --version ≤ 3× node -e 0)`, [
      { command: "node -e 0 (baseline)", median: fmtMs(baseline), ratio: "1.00×" },
      {
        command: "entourage --version",
        median: fmtMs(version),
        ratio: `${(version / baseline).toFixed(2)}×`,
      },
      { command: "entourage --help", median: fmtMs(help), ratio: `${(help / baseline).toFixed(2)}×` },
    ]);
    await startupBench(table);

    await orchestrationBench(table);
    await sandboxBench(table);
    await workspaceSetupBench(table);
    await firstTestRunBench(table);
    await serverBench(table);
    await dashboardBench(table);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
