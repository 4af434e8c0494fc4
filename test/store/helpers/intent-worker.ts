/**
 * Child process for the crash test: drives `runs` runs at once through RunEmitter on a SQLite store, each
 * step a posted event (not waited for), then an intent (`tool.call.started`, waited for), then the act it
 * announces — a line `<runId> <callId>` appended to `acts` — until it is killed.
 * Usage: node intent-worker.ts '{"file": "...", "acts": "...", "runs": 4}'
 */
import { appendFileSync } from "node:fs";
import { RunEmitter } from "../../../src/orchestrator/index.ts";
import { openSqliteEventStore } from "../../../src/store/index.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as { file: string; acts: string; runs: number };
const store = await openSqliteEventStore(config.file);
await Promise.all(
  Array.from({ length: config.runs }, async (_, r) => {
    const runId = `run_crash${r}`;
    const emitter = new RunEmitter(store, runId);
    for (let step = 1; ; step++) {
      emitter.post({ type: "agent.step.started", agentId: "agt_1", data: { step } });
      const callId = `call_${step}`;
      await emitter.emit({
        type: "tool.call.started",
        agentId: "agt_1",
        data: { callId, name: "run_command" },
      });
      appendFileSync(config.acts, `${runId} ${callId}\n`);
    }
  }),
);
