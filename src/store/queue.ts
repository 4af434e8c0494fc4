/**
 * The run queue of a team deployment: graphile-worker on the same PostgreSQL database as the event log
 * (its own schema, `graphile_worker`, migrated by graphile-worker itself on start). A job says "drive run
 * X"; a worker takes it at once (LISTEN/NOTIFY) and drives the run as `resume` does. The queue only hands
 * runs out: the run's lease, not the job's lock, is what guarantees one driver, so a job for a run that
 * someone already drives, or that has ended, does nothing.
 */
import type { Logger as GraphileLogger, Runner, WorkerUtils } from "graphile-worker";
import { errorMessage } from "../core/index.ts";

/** The one task of the queue. */
export const DRIVE_TASK = "entourage_drive_run";

/** What a job carries: the run, and for a run continued on another model, the model to continue on. */
export interface DriveJob {
  runId: string;
  model?: { provider?: string; model?: string; baseUrl?: string };
}

type Graphile = typeof import("graphile-worker");
let loading: Promise<Graphile> | undefined;

/**
 * graphile-worker searches the working directory and its parents for a config file when it loads (and
 * would run a `.js` one): a worker started inside a repository must not run that repository's code. It is
 * loaded from the filesystem root, which has no parent to search and which only root can write to.
 */
function graphile(): Promise<Graphile> {
  loading ??= (async () => {
    const cwd = process.cwd();
    process.chdir("/");
    try {
      return await import("graphile-worker");
    } finally {
      process.chdir(cwd);
    }
  })();
  return loading;
}

async function quietLogger(log: (message: string) => void): Promise<GraphileLogger> {
  const { Logger } = await graphile();
  return new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") log(`queue: ${message}`);
  });
}

/** The side that adds jobs (`entourage serve`, and workers re-queueing interrupted runs). */
export class RunQueue {
  readonly #utils: WorkerUtils;

  private constructor(utils: WorkerUtils) {
    this.#utils = utils;
  }

  /** Connects and brings the queue's schema up to date. */
  static async open(connectionString: string, log: (message: string) => void): Promise<RunQueue> {
    const { makeWorkerUtils } = await graphile();
    const utils = await makeWorkerUtils({ connectionString, logger: await quietLogger(log) });
    await utils.migrate();
    return new RunQueue(utils);
  }

  /**
   * Asks for the run to be driven. One waiting job per run: a second enqueue of a run whose job is still
   * waiting replaces it (keeping its place); one whose job is being worked on gets a new job, which does
   * nothing if the first driver still holds the run.
   */
  async enqueue(job: DriveJob): Promise<void> {
    await this.#utils.addJob(DRIVE_TASK, job, {
      jobKey: job.runId,
      jobKeyMode: "preserve_run_at",
      maxAttempts: 5,
    });
  }

  /** How many jobs wait for a worker, and how many are being worked on (the serve banner, doctor). */
  async counts(): Promise<{ waiting: number; working: number }> {
    const rows = await this.#utils.withPgClient((client) =>
      client.query<{ waiting: string; working: string }>(
        `SELECT count(*) FILTER (WHERE locked_at IS NULL) AS waiting,
                count(*) FILTER (WHERE locked_at IS NOT NULL) AS working
           FROM graphile_worker.jobs WHERE task_identifier = $1`,
        [DRIVE_TASK],
      ),
    );
    return { waiting: Number(rows.rows[0]?.waiting ?? 0), working: Number(rows.rows[0]?.working ?? 0) };
  }

  async close(): Promise<void> {
    await this.#utils.release();
  }
}

export interface QueueWorker {
  /** Stops taking jobs; resolves when the jobs in hand have returned (abort them first with `signal`). */
  stop(): Promise<void>;
  /** Settles when the worker stops (rejects if it failed). */
  done: Promise<void>;
}

/**
 * Takes jobs from the queue, `concurrency` at a time, and hands each to `drive`. A `drive` that throws
 * fails the job, which graphile-worker retries with backoff (at most 5 attempts).
 */
export async function startQueueWorker(
  connectionString: string,
  options: {
    concurrency: number;
    drive: (job: DriveJob, signal: AbortSignal) => Promise<void>;
    log: (message: string) => void;
  },
): Promise<QueueWorker> {
  const { run } = await graphile();
  const runner: Runner = await run({
    connectionString,
    concurrency: options.concurrency,
    // Pools hold one connection per job in hand, plus the LISTEN connection.
    maxPoolSize: options.concurrency + 2,
    noHandleSignals: true,
    logger: await quietLogger(options.log),
    // No crontab: nothing is read from the working directory.
    parsedCronItems: [],
    taskList: {
      [DRIVE_TASK]: async (payload, helpers) => {
        const job = payload as DriveJob;
        if (typeof job?.runId !== "string") {
          options.log(`queue: job ${helpers.job.id} has no run id; dropped`);
          return;
        }
        try {
          await options.drive(job, helpers.abortSignal);
        } catch (error) {
          options.log(`run ${job.runId}: ${errorMessage(error)}`);
          throw error;
        }
      },
    },
  });
  return { stop: () => runner.stop(), done: runner.promise };
}
