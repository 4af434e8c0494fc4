import { Readable, Writable } from "node:stream";
import { type RunFlags, runOptionsOf } from "./run-flags.ts";

/** The `entourage acp` flags: the run flags that apply to every session's run. */
export type AcpFlags = Omit<RunFlags, "repo" | "json" | "server"> & {
  /** false with --no-server: no HTTP API (attach, dashboard) for the sessions' runs. */
  server?: boolean;
};

/**
 * `entourage acp`: an Agent Client Protocol agent on stdin/stdout for editors (Zed, and any ACP client). Each
 * session is an Entourage run on the session's directory, driven in this process; its HTTP API (127.0.0.1,
 * as `entourage run` starts) lets `entourage attach`, `entourage show` and the dashboard watch and steer the
 * same runs at the same time. stdout carries ACP JSON-RPC only: everything else goes to stderr.
 */
export async function acpCommand(flags: AcpFlags): Promise<number> {
  // Taken before anything can print: the protocol's own channel. Stray writes to stdout go to stderr.
  const protocolOut = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  // The editor going away closes stdout: that ends the connection like the end of stdin (runs are left
  // paused), rather than the exit on a closed pipe every other command makes.
  const outClosed = Promise.withResolvers<string>();
  process.stdout.removeAllListeners("error");
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    outClosed.resolve("the editor closed the connection");
  });
  const log = (message: string) => process.stderr.write(`entourage acp: ${message}\n`);
  const { reportError } = await import("../terminal/exit.ts");
  try {
    const [{ ndJsonStream }, { serveAcp }, { openStore, home }, { startLocalServer }] = await Promise.all([
      import("@agentclientprotocol/sdk"),
      import("../acp/agent.ts"),
      import("../compose.ts"),
      import("../remote/run-server.ts"),
    ]);
    const store = await openStore();
    const runs = new Map();
    const shutdown = new AbortController();
    const server =
      flags.server === false
        ? undefined
        : await startLocalServer(store, runs).catch((error: unknown) => {
            log(`the API server did not start (${String(error)}); sessions go on without it`);
            return undefined;
          });
    if (server) log(`api ${server.url}  ·  dashboard ${server.dashboardUrl}`);
    const output = Writable.toWeb(
      new Writable({
        write(chunk, _encoding, callback) {
          protocolOut(chunk, callback);
        },
      }),
    );
    const input = Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>;
    const connection = serveAcp(
      ndJsonStream(output, input),
      {
        store,
        runs,
        announce: (runId) => server?.announce(runId) ?? (() => {}),
        shutdown: shutdown.signal,
        serverUrl: server?.url,
        log,
        runOptions: runOptionsOf(flags),
      },
      process.env.npm_package_version ?? "0.1.0",
    );
    log(`ready (ENTOURAGE_HOME ${home()})`);
    const signal = await Promise.race([
      connection.closed.then(() => "the editor closed the connection"),
      outClosed.promise,
      new Promise<string>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      }),
    ]);
    log(`${signal}: stopping; runs in progress are left paused and resumable`);
    shutdown.abort(new Error(signal));
    // Each drive ends once its abort is handled (the run is left paused); the lease is released then.
    const deadline = Date.now() + 10_000;
    while (runs.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    connection.close();
    await server?.close();
    await store.close();
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
