/**
 * Child process for the multi-process tests: opens the store (a SQLite `file`, or a PostgreSQL `url`) and
 * appends single events, spread round-robin over the given runs, starting at a shared wall-clock instant
 * so writers overlap; `parallel` concurrent appenders share the process (and so its group commits). With
 * `lease`, it instead races for the lease of each run and prints one JSON line per run: {runId, ok, holder}.
 * Usage: node append-worker.ts '{"file": "...", "label": "p1", "runs": ["r1"], "count": 500, "startAt": 0}'
 */
import type { EventStore } from "../../../src/store/index.ts";
import { openSqliteEventStore, thisProcess } from "../../../src/store/index.ts";
import type { WorkerConfig } from "./run-worker.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const store: EventStore = config.url
  ? await (await import("../../../src/store/backends/postgres.ts")).openPostgresEventStore(config.url)
  : await openSqliteEventStore(config.file as string);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, config.startAt - Date.now())));

if (config.lease) {
  // Held in the name of the test process, which outlives both racers: a racer that starts late must find
  // the winner's lease live, not stale because the winner has already exited.
  const holder = { ...thisProcess(config.label), pid: process.ppid };
  const results = await Promise.all(config.runs.map((runId) => store.acquireLease(runId, holder, 30_000)));
  results.forEach((attempt, i) => {
    const holder = attempt.ok ? attempt.lease.holder : attempt.heldBy.holder;
    process.stdout.write(`${JSON.stringify({ runId: config.runs[i], ok: attempt.ok, holder })}\n`);
  });
} else {
  const batch = config.batch ?? 1;
  const parallel = config.parallel ?? 1;
  let next = 0;
  const appender = async () => {
    for (let i = next; i < config.count; i = next) {
      next += batch;
      const runId = config.runs[(i / batch) % config.runs.length] as string;
      const events = Array.from({ length: Math.min(batch, config.count - i) }, (_, k) => ({
        type: "agent.text.delta" as const,
        agentId: config.label,
        data: { step: 1, text: `${config.label}:${i + k}` },
      }));
      await store.append(runId, events);
      if (config.pauseMs) await new Promise((resolve) => setTimeout(resolve, config.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: parallel }, appender));
}
await store.close();
