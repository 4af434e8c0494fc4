import { hostname } from "node:os";
import { errorMessage, UserError } from "../../core/index.ts";
import { leaseTtlMs } from "../../store/index.ts";
import { openStore } from "../compose.ts";
import { driveQueuedRun, requeueOrphans } from "../queue-drive.ts";
import { storeLocation } from "../store-choice.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/**
 * `entourage worker`: takes runs from the team deployment's queue (PostgreSQL) and drives them here, with
 * this machine's sandboxes, `concurrency` at a time. Every few seconds it also queues again the runs whose
 * driver died (on any machine). Ctrl-C / SIGTERM: the runs in hand stop at once and go back to the queue
 * for another worker; it exits 0.
 */
export async function workerCommand(opts: { concurrency: number }): Promise<number> {
  try {
    const location = storeLocation();
    if (location.kind !== "postgres") {
      throw new UserError(
        "worker_needs_postgres",
        "A worker takes runs from the queue in the team's PostgreSQL database; give it with --store postgres://… or ENTOURAGE_DATABASE_URL. " +
          `(The store now is the SQLite file ${location.display}: on one machine, \`entourage serve\` drives runs itself.)`,
      );
    }
    const log = (m: string) => process.stderr.write(`${m}\n`);
    const [{ RunQueue, startQueueWorker }, store] = await Promise.all([
      import("../../store/queue.ts"),
      openStore(),
    ]);
    const queue = await RunQueue.open(location.url, log);
    const stopping = new AbortController();
    const label = `entourage worker`;
    const worker = await startQueueWorker(location.url, {
      concurrency: opts.concurrency,
      log,
      drive: (job, jobSignal) =>
        driveQueuedRun(store, job, {
          label,
          queue,
          log,
          signal: AbortSignal.any([jobSignal, stopping.signal]),
        }),
    });
    // Well within a lease's time to live, so a dead worker's run moves on soon after its lease goes stale.
    const sweepMs = Math.max(500, Math.floor(leaseTtlMs() / 3));
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweep = () => {
      sweeping = requeueOrphans(store, queue).then(
        (ids) => {
          if (ids.length > 0) log(`queued again (their driver is gone): ${ids.join(", ")}`);
        },
        (error: unknown) => log(`sweep: ${errorMessage(error)}`),
      );
    };
    sweep();
    const timer = setInterval(() => void sweeping.then(sweep), sweepMs);

    const s = makeStyle(colorEnabled(process.stdout));
    process.stdout.write(
      `${s.bold("entourage worker")} on ${hostname()} (pid ${process.pid}) takes runs from ${s.cyan(location.display)}, ${opts.concurrency} at a time\n`,
    );
    const stopped = await Promise.race([
      new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      }),
      worker.done.then(() => "done" as const),
    ]);
    clearInterval(timer);
    if (stopped !== "done")
      process.stderr.write(`${stopped}: stopping; runs in hand go back to the queue…\n`);
    stopping.abort(new Error("the worker is stopping"));
    await worker.stop().catch(() => {});
    await sweeping;
    await queue.close();
    await store.close();
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}
