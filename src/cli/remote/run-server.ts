import type { RunControl } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { apiHost, home } from "../compose.ts";
import { announceServer } from "./server-discovery.ts";

/** Where a CLI process's own API server listens first; a busy port falls back to a free one. */
export const RUN_SERVER_PORT = 4317;

export interface LocalServer {
  url: string;
  /** The dashboard link: it carries a one-time login code (exchanged for an httpOnly cookie). */
  dashboardUrl: string;
  /** Announces `runId` as served here, so `entourage attach <run>` finds it; returns the undo. */
  announce(runId: string): () => void;
  /** Withdraws every announcement and stops the server. */
  close(): Promise<void>;
}

/**
 * The HTTP API, on 127.0.0.1, for the runs this CLI process drives (`runs`: a `run`'s one, or the map an
 * `acp` process's sessions fill): watch them (SSE), answer their approvals, steer them. It listens at once,
 * but the API itself (Hono, the routes, their schemas) is loaded on the first request: most runs are never
 * asked, and the first model request (or an editor's `initialize`) does not wait for it.
 */
export async function startLocalServer(
  store: EventStore,
  runs: Map<string, RunControl>,
): Promise<LocalServer> {
  // Only the light half of the server here: the port, the token, the sign-in codes (node:http, node:crypto).
  const [{ listen }, { LoginCodes, loginUrl }, { loadOrCreateToken }] = await Promise.all([
    import("../../server/listen.ts"),
    import("../../server/session.ts"),
    import("../../server/token.ts"),
  ]);
  const host = "127.0.0.1";
  const token = loadOrCreateToken(home());
  const loginCodes = new LoginCodes();
  const app = async () => {
    const { createApp } = await import("../../server/index.ts");
    return createApp({ store, runs, ...apiHost(token), options: { host, loginCodes } });
  };
  const port = Number(process.env.ENTOURAGE_PORT) || RUN_SERVER_PORT;
  const listening = await listen(app, { host, port, fallbackToFreePort: true });
  const announced = new Set<() => void>();
  return {
    url: listening.url,
    dashboardUrl: loginUrl(listening.url, loginCodes),
    announce: (runId) => {
      const undo = announceServer(home(), {
        url: listening.url,
        pid: process.pid,
        kind: "run",
        runId,
        startedAt: Date.now(),
      });
      announced.add(undo);
      return () => {
        announced.delete(undo);
        undo();
      };
    },
    close: async () => {
      for (const undo of announced) undo();
      await listening.close();
    },
  };
}

/** The API server of `entourage run`: one run, announced for as long as the server lives. */
export async function startRunServer(
  store: EventStore,
  runId: string,
  control: RunControl,
): Promise<LocalServer> {
  const server = await startLocalServer(store, new Map([[runId, control]]));
  server.announce(runId);
  return server;
}
