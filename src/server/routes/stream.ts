import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { type EntourageEvent, UserError } from "../../core/index.ts";
import { apiEventSchema, errorSchema, runParams, streamQuery } from "../schemas.ts";
import { tailAll, tailRun } from "../tail.ts";
import type { App, RouteContext } from "./context.ts";
import { requireRun } from "./context.ts";

export function wantsEventStream(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/event-stream");
}

/** The seq to start from: one after `Last-Event-ID` (a seq) when the client reconnects, else `from`. */
function startSeq(c: Context, from: number | undefined): number {
  const last = c.req.header("last-event-id");
  if (last === undefined || last.trim() === "") return from ?? 0;
  if (!/^\d{1,15}$/.test(last.trim()))
    throw new UserError("invalid_request", `Last-Event-ID must be an event seq (a number), got "${last}".`);
  return Number(last.trim()) + 1;
}

/**
 * Streams events as SSE until the client goes away: `id` is what a reconnecting client sends back as
 * Last-Event-ID, `data` the event as JSON. A comment line every `keepAliveMs` keeps proxies from closing
 * an idle stream.
 */
function pump(
  c: Context,
  ctx: RouteContext,
  events: (signal: AbortSignal) => AsyncIterable<EntourageEvent>,
  idOf: (event: EntourageEvent) => string,
): Response {
  // HEAD: the headers of the stream, without starting one nobody will read.
  if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream" });
  return streamSSE(c, async (stream: SSEStreamingApi) => {
    const ended = Promise.withResolvers<void>();
    ctx.streams.add(ended.promise);
    const abort = new AbortController();
    stream.onAbort(() => abort.abort());
    c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
    const keepAlive = setInterval(() => {
      stream.write(": keep-alive\n\n").catch(() => abort.abort());
    }, ctx.options.keepAliveMs ?? 15_000);
    try {
      await stream.write("retry: 1000\n\n");
      for await (const event of events(abort.signal)) {
        await stream.writeSSE({ id: idOf(event), data: JSON.stringify(event) });
        if (stream.aborted || stream.closed) break;
      }
    } catch (error) {
      // A client that goes away mid-write is the normal end of a stream, not an error.
      if (!stream.aborted && !stream.closed && !abort.signal.aborted) ctx.options.log?.(error);
    } finally {
      clearInterval(keepAlive);
      abort.abort();
      ctx.streams.delete(ended.promise);
      ended.resolve();
    }
  });
}

/** The SSE stream of one run, resuming exactly after Last-Event-ID. */
export function sseForRun(c: Context, ctx: RouteContext, runId: string, from: number | undefined): Response {
  const start = startSeq(c, from);
  return pump(
    c,
    ctx,
    (signal) => tailRun(ctx.store, runId, start, signal, { drain: ctx.drain }),
    (event) => String(event.seq),
  );
}

const sseResponse = (description: string) => ({
  description,
  content: { "text/event-stream": { schema: apiEventSchema } },
});
const err = (description: string) => ({
  description,
  content: { "application/json": { schema: errorSchema } },
});

export function streamRoutes(app: App, ctx: RouteContext): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/stream",
      summary: "A run's events as Server-Sent Events: its history, then live",
      description:
        "Each message has `id: <seq>` and `data: <event JSON>`. A client that reconnects with " +
        "`Last-Event-ID: <seq>` receives every later event exactly once (no gap, no duplicate). Without it, " +
        "the stream starts at `from` (default 0). The stream stays open after the run ends; close it " +
        "when you see `run.finished`.",
      request: {
        params: runParams,
        query: streamQuery,
        headers: z.object({ "last-event-id": z.string().optional() }),
      },
      responses: {
        200: sseResponse("The stream"),
        400: err("Invalid Last-Event-ID"),
        404: err("No such run"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { from } = c.req.valid("query");
      await requireRun(ctx, id);
      return sseForRun(c, ctx, id, from);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/events/stream",
      summary: "Every run's events as they are written (live only)",
      description:
        "Each message has `id: <runId>:<seq>` and `data: <event JSON>`. This stream is live only: it " +
        "starts with the next event written and does not replay on reconnect. To see a run completely, " +
        "follow /runs/{id}/stream, which resumes exactly from Last-Event-ID.",
      responses: { 200: sseResponse("The stream") },
    }),
    (c) =>
      pump(
        c,
        ctx,
        (signal) => tailAll(ctx.store, signal, { drain: ctx.drain }),
        (event) => `${event.runId}:${event.seq}`,
      ),
  );
}
