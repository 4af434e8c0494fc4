import { createRoute, z } from "@hono/zod-openapi";
import { EntourageError } from "../../core/index.ts";
import { applyRun, forkRun, rewindRun, runDiff } from "../../orchestrator/index.ts";
import { drivenLive, runDriver } from "../../store/index.ts";
import {
  apiEventSchema,
  applyBody,
  applyResponse,
  createRunBody,
  diffResponse,
  errorSchema,
  eventsPageSchema,
  eventsQuery,
  forkBody,
  forkResponse,
  listRunsQuery,
  rewindBody,
  rewindResponse,
  runCreatedResponse,
  runDetailSchema,
  runParams,
  runSummarySchema,
} from "../schemas.ts";
import { steeringOf } from "../steering.ts";
import type { App, RouteContext } from "./context.ts";
import { requireRun } from "./context.ts";
import { sseForRun, wantsEventStream } from "./stream.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const err = (description: string) => json(errorSchema, description);
const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export function runRoutes(app: App, ctx: RouteContext): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/runs",
      summary: "Start a run in this server's process",
      request: { body: body(createRunBody) },
      responses: {
        201: json(runCreatedResponse, "The run is created and being driven"),
        400: err("Invalid body, or a configuration problem (no model, no sandbox, not a git repo)"),
        409: err("This server belongs to one CLI run and does not start others"),
      },
    }),
    async (c) => {
      if (!ctx.launcher) {
        throw new EntourageError(
          "runs_not_accepted",
          "This server belongs to one CLI run and does not start other runs. Start runs over the API with `entourage serve`.",
        );
      }
      const runId = await ctx.launcher.start(c.req.valid("json"));
      return c.json({ runId }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/runs",
      summary: "List runs, newest first",
      request: { query: listRunsQuery },
      responses: {
        200: json(z.object({ runs: z.array(runSummarySchema) }), "Runs"),
        400: err("Invalid query"),
      },
    }),
    async (c) => {
      const { status, limit } = c.req.valid("query");
      const runs = await ctx.store.listRuns({ status, limit: limit ?? 100 });
      const now = Date.now();
      // Steerable from here: driven by this process, or by a live process elsewhere (acts go through the log).
      const live = (r: (typeof runs)[number]) => ctx.runs.has(r.runId) || drivenLive(r, now);
      return c.json({ runs: runs.map((r) => ({ ...r, live: live(r) })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}",
      summary: "A run's state, folded from its events, and the approvals waiting for an answer",
      request: { params: runParams },
      responses: { 200: json(runDetailSchema, "The run"), 404: err("No such run") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const state = await ctx.states.get(id);
      if (!state)
        throw new EntourageError("run_not_found", `No run with id ${id}. List runs with GET /runs.`);
      const control = await steeringOf(ctx, id);
      const pendingApprovals = (await control?.pendingApprovals()) ?? [];
      const driving = await runDriver(ctx.store, id, state.status);
      return c.json({ run: state, live: control !== undefined, ...driving, pendingApprovals }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/events",
      summary: "A page of a run's events; with Accept: text/event-stream, the live stream (see /stream)",
      request: { params: runParams, query: eventsQuery },
      responses: {
        200: {
          description: "Events from `from` (default 0), at most `limit` (default 1000)",
          content: {
            "application/json": { schema: eventsPageSchema },
            "text/event-stream": { schema: apiEventSchema },
          },
        },
        400: err("Invalid query or Last-Event-ID"),
        404: err("No such run"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { from, limit } = c.req.valid("query");
      await requireRun(ctx, id);
      if (wantsEventStream(c)) return sseForRun(c, ctx, id, from);
      const size = limit ?? 1000;
      const events = await ctx.store.read(id, { fromSeq: from ?? 0, limit: size });
      const next = events.length > 0 ? events.at(-1)!.seq + 1 : (from ?? 0);
      return c.json({ events, next, more: events.length === size }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/diff",
      summary: "The change the run made: baseline → its latest checkpoint",
      request: { params: runParams },
      responses: { 200: json(diffResponse, "The diff"), 404: err("No such run") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireRun(ctx, id);
      const { diff, files, insertions, deletions } = await runDiff(ctx.store, id);
      return c.json({ diff, files, insertions, deletions }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/apply",
      summary: "Write the run's change into the user's checkout",
      request: { params: runParams, body: { ...body(applyBody), required: false } },
      responses: {
        200: json(applyResponse, "The files written (none if the run changed nothing)"),
        404: err("No such run"),
        409: err(
          "The run is still going, the checkout changed underneath, it was applied already, another apply into the checkout is running or was interrupted, or changes need review (apply_needs_review: send acceptRisky)",
        ),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const acceptRisky = (c.req.valid("json") as { acceptRisky?: boolean } | undefined)?.acceptRisky;
      await requireRun(ctx, id);
      const result = await applyRun(ctx.store, id, { journals: ctx.applyJournals, acceptRisky });
      return c.json(
        {
          runId: id,
          target: result.target,
          files: result.files,
          review: result.review,
          resumed: result.resumed,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/rewind",
      summary: "Put the run's workspace and context back to an earlier event; the run is left paused",
      request: { params: runParams, body: body(rewindBody) },
      responses: {
        200: json(rewindResponse, "Rewound; resume with POST /runs/{id}/resume"),
        400: err("`to` outside the run's events"),
        404: err("No such run"),
        409: err("The run is being driven; stop it first"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { to } = c.req.valid("json");
      await requireRun(ctx, id);
      if (ctx.runs.has(id)) {
        throw new EntourageError(
          "run_live",
          `Run ${id} is being driven by this server. Cancel it (or wait for it to end), then rewind.`,
        );
      }
      const target = await rewindRun(ctx.store, id, to);
      return c.json({ runId: id, ref: target.ref, label: target.label }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/fork",
      summary: "Start a new run from any event of this one, optionally with guidance",
      request: { params: runParams, body: body(forkBody) },
      responses: {
        201: json(forkResponse, "The new run"),
        400: err("`at` outside the run's events"),
        404: err("No such run"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { at, guidance } = c.req.valid("json");
      await requireRun(ctx, id);
      const fork = await forkRun(ctx.store, id, {
        at,
        guidance,
        by: "api",
        ids: ctx.ids,
        workspaceDir: ctx.workspaceDir,
      });
      if (ctx.launcher) await ctx.launcher.continue(fork.newRunId);
      return c.json(
        { runId: fork.newRunId, forkedFrom: { runId: id, seq: at }, started: ctx.launcher !== undefined },
        201,
      );
    },
  );
}
