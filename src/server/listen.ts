import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { errorMessage, SystemError } from "../core/index.ts";
import type { App } from "./app.ts";

export interface Listening {
  /** Base URL, e.g. http://127.0.0.1:4317 */
  url: string;
  host: string;
  port: number;
  /** Stops accepting, ends open streams, resolves when the server is closed. */
  close(): Promise<void>;
}

/**
 * Serves `app` on host:port. With `fallbackToFreePort`, a port in use is not an error: the server takes
 * a free one instead (a second CLI run on the same machine gets its own), and `url` says which.
 *
 * `app` may be a function that makes it: the server then listens at once and loads the app on its first
 * request (a CLI run's own server, which nobody may ever ask: the routes, their schemas and Hono stay
 * unloaded until someone does). Requests that arrive meanwhile wait for it.
 */
export async function listen(
  app: App | (() => Promise<App>),
  options: { host: string; port: number; fallbackToFreePort?: boolean },
): Promise<Listening> {
  let loaded: App | undefined;
  let handle: RequestListener | undefined;
  let loading: Promise<RequestListener> | undefined;
  const load = () => {
    loading ??= (async () => {
      const [{ getRequestListener }, made] = await Promise.all([
        import("@hono/node-server"),
        typeof app === "function" ? app() : app,
      ]);
      loaded = made;
      // The adapter's Request/Response subclass Node's own (hono's bodyLimit needs them for chunked bodies).
      handle = getRequestListener(made.fetch);
      return handle;
    })();
    return loading;
  };
  if (typeof app !== "function") await load();
  const server = nodeHttp().createServer((req, res) => {
    if (handle) return void handle(req, res);
    load().then(
      (ready) => ready(req, res),
      (error: unknown) => unavailable(res, error),
    );
  });
  const bind = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        server.off("listening", onListening);
        reject(error);
      };
      const onListening = () => {
        server.off("error", onError);
        resolve();
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(port, options.host);
    });
  try {
    await bind(options.port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" && options.fallbackToFreePort) await bind(0);
    else {
      throw new SystemError(
        code === "EADDRINUSE" ? "port_in_use" : "listen_failed",
        code === "EADDRINUSE"
          ? `Port ${options.port} on ${options.host} is in use. Choose another with --port.`
          : `Could not listen on ${options.host}:${options.port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const address = server.address() as AddressInfo;
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const urlHost = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : hostPart;
  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Open streams first send what the log holds, then end; idle connections go; the rest is cut.
      await loading?.catch(() => {});
      await loaded?.closeStreams();
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 500)))]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The app could not be loaded: every request gets a 500 that says why (and the log has it). */
function unavailable(res: ServerResponse<IncomingMessage>, error: unknown): void {
  process.stderr.write(`entourage server: the API could not be loaded: ${errorMessage(error)}\n`);
  if (res.headersSent) return void res.destroy();
  res.writeHead(500, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      error: { code: "server_unavailable", message: `The API could not be loaded: ${errorMessage(error)}` },
    }),
  );
}

/**
 * node:http without its ES-module facade: `import … from "node:http"` builds a facade of every export, and
 * reading Node 24's lazy `WebSocket`, `CloseEvent` and `MessageEvent` exports loads undici, a synchronous
 * ~25 ms (measured: 22–27 ms for the import, 2.6 ms this way). A run's server is started beside its first
 * model request, so those milliseconds were the run's.
 */
function nodeHttp(): typeof import("node:http") {
  return process.getBuiltinModule("node:http");
}
