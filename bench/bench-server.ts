import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId, systemClock } from "../src/core/index.ts";
import { createApp, listen } from "../src/server/index.ts";
import { type EventStore, openSqliteEventStore } from "../src/store/index.ts";

/** The API server on 127.0.0.1 over a fresh SQLite store, for the duration of `fn`. */
export async function withBenchServer<T>(fn: (url: string, store: EventStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "entourage-bench-dashboard-"));
  const store = await openSqliteEventStore(join(dir, "events.db"));
  try {
    return await withApiServer(store, dir, (url) => fn(url, store));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The API server on 127.0.0.1 over `store` (its run folders under `dir`), for the duration of `fn`. */
export async function withApiServer<T>(
  store: EventStore,
  dir: string,
  fn: (url: string) => Promise<T>,
): Promise<T> {
  const app = createApp({
    store,
    runs: new Map(),
    clock: systemClock,
    ids: newId,
    token: "bench-token-0123456789",
    workspaceDir: (id) => join(dir, id),
    applyJournals: join(dir, "applies"),
    options: { host: "127.0.0.1" },
  });
  const listening = await listen(app, { host: "127.0.0.1", port: 0 });
  try {
    return await fn(listening.url);
  } finally {
    await listening.close();
  }
}
