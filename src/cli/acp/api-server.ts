import type { RunControl } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { apiHost, home } from "../compose.ts";
import { RUN_SERVER_PORT } from "../remote/run-server.ts";
import { announceServer } from "../remote/server-discovery.ts";

/**
 * The HTTP API of an `entourage acp` process on 127.0.0.1, for every run its sessions drive (`runs`, the map
 * the sessions fill): `entourage attach`, the dashboard and API clients watch and steer them while the editor
 * does. Each run is announced as this server's, so `attach <run>` finds it. It listens at once and loads the
 * API (Hono, the routes and their schemas) on its first request, as a CLI run's server does: the editor's
 * `initialize` does not wait for it.
 */
export async function startAcpServer(
  store: EventStore,
  runs: Map<string, RunControl>,
): Promise<{
  url: string;
  dashboardUrl: string;
  announce: (runId: string) => () => void;
  close: () => Promise<void>;
}> {
  // Only the light half of the server here (node:http, the token, the sign-in codes); see run-server.ts.
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
