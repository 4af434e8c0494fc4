import type { RunControl } from "../../orchestrator/index.ts";
import { apiHost, home, openStore } from "../compose.ts";
import { createLauncher } from "../drive.ts";
import { createQueueLauncher } from "../queue-drive.ts";
import { announceServer } from "../remote/server-discovery.ts";
import { storeLocation } from "../store-choice.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/**
 * `entourage serve`: the engine as a server. Runs started over the API are driven in this process, and
 * their approvals are answered over the API; on PostgreSQL they are queued for `entourage worker`s instead,
 * and steered through the log wherever they are driven. Ctrl-C (or SIGTERM) stops it cleanly: the runs it drives
 * are left paused (POST /runs/:id/resume on the next `serve`, or `entourage resume`), and it exits 0.
 */
export async function serveCommand(opts: {
  host: string;
  port: number;
  requireToken?: boolean;
}): Promise<number> {
  try {
    const { createApp, isLoopback, listen, loadOrCreateToken } = await import("../../server/index.ts");
    const store = await openStore();
    const runs = new Map<string, RunControl>();
    const log = (m: string) => process.stderr.write(`${m}\n`);
    const location = storeLocation();
    // On PostgreSQL (a team deployment) runs go to the queue and workers drive them; else they run here.
    const queue =
      location.kind === "postgres"
        ? await (await import("../../store/queue.ts")).RunQueue.open(location.url, log)
        : undefined;
    const launcher = queue
      ? createQueueLauncher({ store, queue, log })
      : createLauncher({ store, runs, log });
    const app = createApp({
      store,
      runs,
      launcher,
      ...apiHost(loadOrCreateToken(home())),
      options: {
        host: opts.host,
        version: process.env.npm_package_version,
        requireToken: opts.requireToken === true,
      },
    });
    const listening = await listen(app, { host: opts.host, port: opts.port });
    const unannounce = announceServer(home(), {
      url: listening.url,
      pid: process.pid,
      kind: "serve",
      startedAt: Date.now(),
    });
    const s = makeStyle(colorEnabled(process.stdout));
    process.stdout.write(
      `${s.bold("entourage serve")} listening on ${s.cyan(listening.url)}  ${s.dim(`(OpenAPI: ${listening.url}/openapi.json)`)}\n`,
    );
    // The sign-in link works once: it sets an httpOnly session cookie and the page never sees the token.
    process.stdout.write(
      `dashboard ${s.cyan(app.loginUrl(listening.url))}  ${s.dim("(sign-in link, works once)")}\n`,
    );
    if (queue) {
      const { waiting, working } = await queue.counts();
      process.stdout.write(
        `runs go to the queue in ${s.cyan(location.display)} (${waiting} waiting, ${working} being driven); start workers with: ${s.bold("entourage worker --store <the same URL>")}\n`,
      );
    }
    if (opts.requireToken && isLoopback(opts.host)) {
      process.stdout.write(
        s.dim(
          "every route but /health needs the bearer token (--require-token), for clients a reverse proxy sends from loopback\n",
        ),
      );
    } else if (!isLoopback(opts.host)) {
      process.stdout.write(
        s.yellow(
          `! listening beyond loopback (${opts.host}): every route but /health needs the bearer token from $ENTOURAGE_HOME/token or ENTOURAGE_TOKEN\n`,
        ),
      );
    }
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    process.stderr.write(`${signal}: stopping; runs in progress are left paused and resumable…\n`);
    await launcher.shutdown();
    unannounce();
    await listening.close();
    await queue?.close();
    await store.close();
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}
