export { type App, createApp } from "./app.ts";
export type { AppDeps, Launcher } from "./deps.ts";
export { type Listening, listen } from "./listen.ts";
export type { CreateRunInput } from "./schemas.ts";
export { isLoopback } from "./security.ts";
export { tailAll, tailRun } from "./tail.ts";
export { loadOrCreateToken, readClientToken } from "./token.ts";
