import { newId, systemClock } from "../../core/index.ts";
import type { RunControl } from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { applyJournals, home, runDir } from "../compose.ts";
import { announceServer } from "./server-discovery.ts";

/** Where a CLI run's own API server listens first; a busy port falls back to a free one. */
export const RUN_SERVER_PORT = 4317;

/**
 * The HTTP API for the one run this CLI process drives, on 127.0.0.1: watch it (SSE), answer its
 * approvals, steer it. Loaded lazily so a run with --no-server never loads the server.
 */
export async function startRunServer(
  store: EventStore,
  runId: string,
  control: RunControl,
): Promise<{ url: string; dashboardUrl: string; close: () => Promise<void> }> {
  const { createApp, listen, loadOrCreateToken } = await import("../../server/index.ts");
  const host = "127.0.0.1";
  const app = createApp({
    store,
    runs: new Map([[runId, control]]),
    clock: systemClock,
    ids: newId,
    token: loadOrCreateToken(home()),
    workspaceDir: (id) => runDir(id).workspace,
    applyJournals: applyJournals(),
    options: { host },
  });
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
    dashboardUrl: app.loginUrl(listening.url),
    close: async () => {
      unannounce();
      await listening.close();
    },
  };
}
