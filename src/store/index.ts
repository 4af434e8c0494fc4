export * from "./backends/memory.ts";
export * from "./backends/sqlite.ts";
export * from "./event-store.ts";
export * from "./hold-lease.ts";
export * from "./home.ts";
export * from "./lease.ts";
export type { EventListener, ListenerErrorHandler } from "./listeners.ts";
export { foldRunSummary } from "./run-summary.ts";
