import type { RunControl } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { apiHost, home } from "../compose.ts";
import { announceServer } from "./server-discovery.ts";

/** Where a CLI run's own API server listens first; a busy port falls back to a free one. */
export const RUN_SERVER_PORT = 4317;

/**
 * The HTTP API for the one run this CLI process drives, on 127.0.0.1: watch it (SSE), answer its
 * approvals, steer it. It listens at once, but the API itself (Hono, the routes, their schemas) is loaded on
 * the first request: most runs are never asked, and a run with --no-server loads none of it.
 */
export async function startRunServer(
  store: EventStore,
  runId: string,
  control: RunControl,
): Promise<{ url: string; dashboardUrl: string; close: () => Promise<void> }> {
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
    return createApp({
      store,
      runs: new Map([[runId, control]]),
      ...apiHost(token),
      options: { host, loginCodes },
    });
  };
  const port = Number(process.env.ENTOURAGE_PORT) || RUN_SERVER_PORT;
  const listening = await listen(app, { host, port, fallbackToFreePort: true });
  const unannounce = announceServer(home(), {
    url: listening.url,
    pid: process.pid,
    kind: "run",
    runId,
    startedAt: Date.now(),
  });
  return {
    url: listening.url,
    // The dashboard link carries a one-time login code (exchanged for an httpOnly cookie).
    dashboardUrl: loginUrl(listening.url, loginCodes),
    close: async () => {
      unannounce();
      await listening.close();
    },
  };
}
