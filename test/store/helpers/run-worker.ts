import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface WorkerConfig {
  /** The SQLite file, or… */
  file?: string;
  /** …the PostgreSQL URL. */
  url?: string;
  label: string;
  runs: string[];
  /** Events to append in all. */
  count: number;
  /** Wall-clock ms at which every worker starts, so they overlap. */
  startAt: number;
  /** Events per append call; default 1. */
  batch?: number;
  /** Pause between appends, so a reader has time to poll in between. */
  pauseMs?: number;
  /** Concurrent appenders in the process; default 1. */
  parallel?: number;
  /** Race for each run's lease instead of appending. */
  lease?: boolean;
}

const workerPath = fileURLToPath(new URL("./append-worker.ts", import.meta.url));

/** Runs append-worker.ts in a separate node process; resolves with its stdout. */
export function runWorker(config: WorkerConfig): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [workerPath, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`worker ${config.label} exited with ${code ?? signal}:\n${stderr}`));
    });
  });
}
