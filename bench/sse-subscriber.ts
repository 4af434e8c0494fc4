/**
 * Child process of the engine bench: follows the SSE streams of the given runs on a server and, for each
 * event, records how long after its `time` (stamped by the store when appended, epoch ms) it was parsed
 * here. Prints "ready" once every stream has delivered its first event; when stdin closes, prints one
 * JSON line {n, p50, p99, max} (ms) and exits.
 * Usage: node sse-subscriber.ts <server url> <run id>...
 */
import { consume } from "./server.ts";

const [url = "", ...runIds] = process.argv.slice(2);
const abort = new AbortController();
const samples: number[] = [];
const connected = new Set<string>();
let measuring = false;
const clients = runIds.map((runId) =>
  consume(`${url}/runs/${runId}/stream`, abort.signal, (data) => {
    const event = JSON.parse(data) as { time: number };
    if (measuring) samples.push(Date.now() - event.time);
    if (!connected.has(runId)) {
      connected.add(runId);
      if (connected.size === runIds.length) {
        measuring = true;
        process.stdout.write("ready\n");
      }
    }
  }),
);
process.stdin.resume();
process.stdin.on("end", async () => {
  abort.abort();
  await Promise.allSettled(clients);
  const sorted = samples.sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  process.stdout.write(
    `${JSON.stringify({ n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) })}\n`,
  );
  process.exit(0);
});
