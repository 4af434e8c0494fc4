import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { errorMessage } from "../core/index.ts";
import { createDashboard } from "./dashboard.ts";
import type { AppDeps } from "./deps.ts";
import { apiError, errorResponse } from "./errors.ts";
import { LoginLimiter } from "./login-limit.ts";
import { checkpointRoutes } from "./routes/checkpoints.ts";
import type { App, RouteContext } from "./routes/context.ts";
import { controlRoutes } from "./routes/control.ts";
import { lessonRoutes } from "./routes/lessons.ts";
import { runRoutes } from "./routes/runs.ts";
import { streamRoutes } from "./routes/stream.ts";
import { RunStates } from "./run-states.ts";
import { healthResponse } from "./schemas.ts";
import { security } from "./security.ts";

const DEFAULT_BODY_LIMIT = 1024 * 1024;

const defaultLog = (error: unknown) => {
  process.stderr.write(`entourage server: ${error instanceof Error ? error.stack : errorMessage(error)}\n`);
};

/**
 * The HTTP API: REST over the event log, SSE streams of it, and the steering routes over the runs this
 * process drives. The same app serves `entourage serve` and the server a CLI run starts for itself.
 */
export function createApp(deps: AppDeps): App {
  const log = deps.options.log ?? defaultLog;
  const api = new OpenAPIHono({
    // Every validation failure is a 400 that names the field.
    defaultHook: (result, c) => {
      if (result.success) return;
      const where = result.target === "json" ? "body" : result.target;
      const message = result.error.issues
        .map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`)
        .join("; ");
      return apiError(c, 400, "invalid_request", message);
    },
  });
  const drain = new AbortController();
  const streams = new Set<Promise<void>>();
  const states = new RunStates(deps.store);
  const limiter = new LoginLimiter({ now: deps.clock, ...deps.options.loginLimit });
  const dashboard = createDashboard({
    limiter,
    token: deps.token,
    host: deps.options.host,
    requireToken: deps.options.requireToken,
    loginCodes: deps.options.loginCodes,
  });
  const app: App = Object.assign(api, {
    loginUrl: dashboard.loginUrl,
    async closeStreams(timeoutMs = 1000) {
      drain.abort();
      states.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...streams]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  });
  app.onError((error, c) => errorResponse(error, c, log));
  app.notFound((c) =>
    apiError(
      c,
      404,
      "not_found",
      `No route ${c.req.method} ${new URL(c.req.url).pathname}. The API is described at /openapi.json.`,
    ),
  );
  app.use(
    security({
      token: deps.token,
      host: deps.options.host,
      requireToken: deps.options.requireToken,
      isPublic: dashboard.isPublic,
      hasSession: dashboard.hasSession,
      limiter,
    }),
  );
  app.use(
    bodyLimit({
      maxSize: deps.options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      onError: (c) =>
        apiError(
          c,
          413,
          "body_too_large",
          `The request body is larger than ${deps.options.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes.`,
        ),
    }),
  );

  const ctx: RouteContext = {
    ...deps,
    options: { ...deps.options, log },
    states,
    drain: drain.signal,
    streams,
  };
  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      summary: "Liveness; the only route that never needs the token",
      security: [],
      responses: {
        200: { description: "Up", content: { "application/json": { schema: healthResponse } } },
      },
    }),
    (c) => c.json({ ok: true as const, version: deps.options.version ?? "0.1.0" }, 200),
  );
  // Before the API routes: a page load of /runs/<id> gets the dashboard, any other request the JSON.
  dashboard.register(app);
  runRoutes(app, ctx);
  checkpointRoutes(app, ctx);
  controlRoutes(app, ctx);
  lessonRoutes(app, ctx);
  streamRoutes(app, ctx);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Entourage API",
      version: deps.options.version ?? "0.1.0",
      description:
        "Watch and steer Entourage runs. Every run is an append-only log of events; the per-run SSE stream " +
        "uses the event's seq as its id, so Last-Event-ID resumes it exactly. Errors are { error: { code, message } }.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
  } as Parameters<App["doc31"]>[1]);
  return app;
}

export type { App, RouteContext };
