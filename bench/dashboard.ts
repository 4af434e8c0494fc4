/**
 * The dashboard in Debian's Chromium against the real API server (in process, SQLite store):
 * 1. event written → rendered in the page, p50/p99, with a run emitting 200 events/s;
 * 2. opening a run of 10,000 events: time until the page shows all of them, and how many rows the DOM holds.
 */
import { existsSync } from "node:fs";
import { type NewEvent, newId } from "../src/core/index.ts";
import { CHROMIUM, launchBrowser } from "../test/helpers/browser.ts";
import { withBenchServer } from "./bench-server.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const AGENT = "agent_bench";

/** The start of a synthetic run: created, running, one agent. */
export function syntheticStart(task: string): NewEvent[] {
  return [
    {
      type: "run.created",
      data: {
        task,
        repo: "/bench/repo",
        workspace: "/bench/workspace",
        mode: "single",
        model: { provider: "scripted", model: "bench", scripted: true },
        sandbox: { backend: "subprocess", isolated: false, network: "off" },
        budget: { maxSteps: 100_000 },
        approval: "auto",
      },
    },
    { type: "run.status", data: { status: "running" } },
    {
      type: "agent.started",
      agentId: AGENT,
      data: { name: "implementer", role: "changes the code", task, model: "bench", tools: ["run_command"] },
    },
  ];
}

/**
 * Event `i` of a synthetic agent loop, the mix a real run has: a step with streamed text, a command with
 * streamed output, its result, now and then a checkpoint. Sixteen events per step.
 */
export function syntheticEvent(i: number): NewEvent {
  const step = Math.floor(i / 16) + 1;
  const k = i % 16;
  const callId = `call_${step}`;
  if (k === 0) return { type: "agent.step.started", agentId: AGENT, data: { step } };
  if (k <= 6) return { type: "agent.text.delta", agentId: AGENT, data: { step, text: `word${i} ` } };
  if (k === 7)
    return {
      type: "agent.step.ended",
      agentId: AGENT,
      data: {
        step,
        text: "…",
        toolCalls: [{ id: callId, name: "run_command", args: { command: `npm test -- ${step}` } }],
        finishReason: "tool-calls",
        usage: { inputTokens: 100, outputTokens: 20 },
      },
    };
  if (k === 8)
    return {
      type: "tool.call.requested",
      agentId: AGENT,
      data: { callId, name: "run_command", args: { command: `npm test -- ${step}` }, risk: "execute", step },
    };
  if (k === 9) return { type: "tool.call.started", agentId: AGENT, data: { callId, name: "run_command" } };
  if (k <= 13)
    return {
      type: "tool.output.delta",
      agentId: AGENT,
      data: { callId, stream: "stdout", text: `\u001b[32m✔\u001b[0m test ${i} passed\n` },
    };
  if (k === 14)
    return {
      type: "tool.call.ended",
      agentId: AGENT,
      data: { callId, name: "run_command", output: "4 passed", isError: false, durationMs: 12, exitCode: 0 },
    };
  return step % 4 === 0
    ? {
        type: "checkpoint.created",
        data: { ref: `ref${step}`, label: `run_command (step ${step})`, filesChanged: ["src/a.ts"] },
      }
    : {
        type: "llm.response",
        agentId: AGENT,
        data: { step, usage: { inputTokens: 100, outputTokens: 20 }, latencyMs: 5, finishReason: "stop" },
      };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export async function dashboardBench(table: Table): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`\nDashboard: skipped (no Chromium at ${CHROMIUM}; apt-get install chromium)`);
    return;
  }
  const browser = await launchBrowser();
  const rows: Row[] = [];
  try {
    const { page } = browser;

    // 1. Event written → rendered, 200 events/s for 10 s (the first second is warm-up).
    await withBenchServer(async (url, store) => {
      const runId = newId("run");
      await store.append(runId, syntheticStart("dashboard latency bench"));
      await page.goto(`${url}/runs/${runId}`);
      await page.locator('[data-testid="timeline"][data-last-seq="2"]').waitFor();
      // The page records when each new last seq reaches the DOM, at the next animation frame.
      await page.evaluate(() => {
        const el = document.querySelector('[data-testid="timeline"]')!;
        const seen: [number, number][] = [];
        (window as unknown as { __seen: [number, number][] }).__seen = seen;
        new MutationObserver(() => {
          const seq = Number(el.getAttribute("data-last-seq"));
          requestAnimationFrame(() => seen.push([seq, performance.timeOrigin + performance.now()]));
        }).observe(el, { attributes: true, attributeFilter: ["data-last-seq"] });
      });
      const written = new Map<number, number>();
      const rate = 200;
      const seconds = 10;
      const start = performance.now();
      for (let i = 0; i < rate * seconds; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const [event] = await store.append(runId, [syntheticEvent(i)]);
        written.set(event!.seq, performance.timeOrigin + performance.now());
      }
      const lastSeq = Math.max(...written.keys());
      await page.locator(`[data-testid="timeline"][data-last-seq="${lastSeq}"]`).waitFor();
      await page.waitForTimeout(100);
      const seen = await page.evaluate(() => (window as unknown as { __seen: [number, number][] }).__seen);
      const samples: number[] = [];
      const warmFrom = 3 + rate; // skip the first second
      let j = 0;
      for (const [seq, at] of [...written.entries()].sort((a, b) => a[0] - b[0])) {
        while (j < seen.length && seen[j]![0] < seq) j++;
        if (j >= seen.length) break;
        if (seq >= warmFrom) samples.push(seen[j]![1] - at);
      }
      samples.sort((a, b) => a - b);
      rows.push({
        measure: `event written → rendered (${rate} events/s, ${samples.length} samples)`,
        p50: `${percentile(samples, 50).toFixed(1)} ms`,
        p99: `${percentile(samples, 99).toFixed(1)} ms`,
        target: "p99 ≤ 100 ms",
      });
    });

    // 2. A run of 10,000 events: open the page, wait until it has all of them.
    await withBenchServer(async (url, store) => {
      const runId = newId("run");
      const events = [
        ...syntheticStart("10,000 events"),
        ...Array.from({ length: 10_000 - 3 }, (_, i) => syntheticEvent(i)),
      ];
      for (let i = 0; i < events.length; i += 1000) await store.append(runId, events.slice(i, i + 1000));
      const t0 = performance.now();
      await page.goto(`${url}/runs/${runId}`);
      await page.locator('[data-testid="timeline"][data-last-seq="9999"]').waitFor({ timeout: 60_000 });
      const ms = performance.now() - t0;
      const domRows = await page.locator('[data-testid="timeline"] [data-index]').count();
      rows.push({
        measure: `open a 10,000-event run until all are shown (${domRows} rows in the DOM)`,
        p50: `${ms.toFixed(0)} ms`,
        p99: "–",
        target: "virtualised",
      });
    });
  } finally {
    await browser.close();
  }
  table("Dashboard in Chromium, real server (target: event → rendered p99 ≤ 100 ms at 200 events/s)", rows);
}

if (import.meta.main) {
  await dashboardBench((title, rows) => {
    console.log(`\n${title}`);
    console.table(rows);
  });
}
