/** What every route module is given: the app to register on and the server's shared state. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { EntourageError } from "../../core/index.ts";
import type { AppDeps } from "../deps.ts";
import type { RunStates } from "../run-states.ts";

/** The API app; `closeStreams` lets open SSE streams send what the log holds, then end them. */
export type App = OpenAPIHono & {
  closeStreams(timeoutMs?: number): Promise<void>;
  /** A one-time sign-in URL for the dashboard served at `baseUrl` (see dashboard.ts). */
  loginUrl(baseUrl: string): string;
};

/** Everything a route module gets: the injected deps plus the server's shared state. */
export interface RouteContext extends AppDeps {
  states: RunStates;
  /** Aborted when the server shuts down: streams finish what the log holds, then end. */
  drain: AbortSignal;
  /** Streams still open; each promise settles when its stream ends. */
  streams: Set<Promise<void>>;
}

/** A 404 for a run the store has never seen. */
export async function requireRun(ctx: RouteContext, runId: string): Promise<void> {
  if ((await ctx.store.nextSeq(runId)) === 0)
    throw new EntourageError("run_not_found", `No run with id ${runId}. List runs with GET /runs.`);
}
