/**
 * Child process for the multi-process tests: opens the store file and appends single events, spread
 * round-robin over the given runs, starting at a shared wall-clock instant so writers overlap.
 * Usage: node append-worker.ts '{"file": "...", "label": "p1", "runs": ["r1"], "count": 500, "startAt": 0}'
 */
import { openSqliteEventStore } from "../../../src/store/index.ts";

interface WorkerConfig {
  file: string;
  label: string;
  runs: string[];
  count: number;
  startAt: number;
  /** Events per append call; default 1. */
  batch?: number;
  /** Pause between appends, so a reader has time to poll in between. */
  pauseMs?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const store = await openSqliteEventStore(config.file);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, config.startAt - Date.now())));
const batch = config.batch ?? 1;
for (let i = 0; i < config.count; i += batch) {
  const runId = config.runs[(i / batch) % config.runs.length] as string;
  const events = Array.from({ length: Math.min(batch, config.count - i) }, (_, k) => ({
    type: "agent.text.delta" as const,
    agentId: config.label,
    data: { step: 1, text: `${config.label}:${i + k}` },
  }));
  await store.append(runId, events);
  if (config.pauseMs) await new Promise((resolve) => setTimeout(resolve, config.pauseMs));
}
await store.close();
