import { Worker } from "node:worker_threads";

/**
 * The WAL holds at most this many pages before the store's own connection checkpoints (SQLite's
 * `wal_autocheckpoint`, blocking the event loop): the bound when the worker below cannot catch up.
 */
export const WAL_CHECKPOINT_PAGES = 4000;

/** Commits between two checkpoints requested from the worker. */
const COMMITS_PER_CHECKPOINT = 100;

// The worker's whole program (CommonJS, evaluated): its own connection, one PASSIVE checkpoint a message.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.file, { timeout: workerData.busyTimeoutMs });
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    checkpoint.get();
    parentPort.postMessage("done");
  } catch (error) {
    parentPort.postMessage(String(error));
  }
});
`;

/**
 * Copies the WAL back into the database file from a worker thread with its own connection, so the
 * checkpoint's page writes and its two fsyncs (the WAL before, the database after) run beside the event
 * loop instead of inside a COMMIT on it. PASSIVE never waits for, nor blocks, a reader or writer. When it
 * finishes between two of the store's commits, the next one restarts the WAL from its start; under
 * sustained writes it cannot, and SQLite's own checkpoint at `WAL_CHECKPOINT_PAGES` bounds the WAL, with
 * little left to copy. Started at the first request (short commands never pay for a thread); a worker
 * that fails is dropped and the bound alone remains, as before.
 */
export class Checkpointer {
  readonly #file: string;
  readonly #busyTimeoutMs: number;
  #worker: Worker | undefined;
  #failed = false;
  #commits = 0;
  #busy = false;

  constructor(file: string, busyTimeoutMs: number) {
    this.#file = file;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  /** After each commit of the store's connection. */
  committed(): void {
    if (++this.#commits < COMMITS_PER_CHECKPOINT || this.#busy || this.#failed) return;
    this.#commits = 0;
    this.#busy = true;
    this.#start().postMessage("checkpoint");
  }

  /** Before the store's connection closes: the worker's closes first, so the store's stays the last one. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failed = true;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.ref(); // the process waits for it to close its connection
    worker.postMessage("close");
    await exited;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { file: this.#file, busyTimeoutMs: this.#busyTimeoutMs },
    });
    worker.unref();
    worker.on("message", (message: string) => {
      this.#busy = false;
      if (message !== "done") this.#drop(worker);
    });
    worker.on("error", () => this.#drop(worker));
    worker.on("exit", () => this.#drop(worker));
    this.#worker = worker;
    return worker;
  }

  #drop(worker: Worker): void {
    this.#failed = true;
    if (this.#worker === worker) this.#worker = undefined;
    worker.terminate().catch(() => {});
  }
}
