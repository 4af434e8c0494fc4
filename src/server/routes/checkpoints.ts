import { createRoute, z } from "@hono/zod-openapi";
import { checkpointAt, openRunWorkspace } from "../../orchestrator/index.ts";
import { apiError } from "../errors.ts";
import { diffResponse, errorSchema } from "../schemas.ts";
import type { App, RouteContext } from "./context.ts";
import { requireRun } from "./context.ts";

const checkpointParams = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be a run id (letters, digits, _ and -, at most 128)"),
  seq: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

export const checkpointDiffResponse = diffResponse
  .extend({
    seq: z.number().int().describe("The checkpoint's event"),
    label: z.string(),
    from: z.string().describe("The checkpoint (or baseline) before it"),
    to: z.string().describe("The checkpoint's snapshot"),
  })
  .meta({ id: "CheckpointDiff" });

/** The change one checkpoint made: the snapshot before it (or the baseline) → its snapshot. */
export function checkpointRoutes(app: App, ctx: RouteContext): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/checkpoints/{seq}/diff",
      summary: "The change made at one checkpoint (the `seq` of its checkpoint.created event)",
      request: { params: checkpointParams },
      responses: {
        200: {
          description: "The diff",
          content: { "application/json": { schema: checkpointDiffResponse } },
        },
        404: {
          description: "No such run or checkpoint",
          content: { "application/json": { schema: errorSchema } },
        },
      },
    }),
    async (c) => {
      const { id, seq } = c.req.valid("param");
      await requireRun(ctx, id);
      const events = await ctx.store.read(id, { fromSeq: 0, limit: seq + 1 });
      const checkpoint = events.find((e) => e.seq === seq);
      if (checkpoint?.type !== "checkpoint.created") {
        // The error shape of every route; typed `never` because the route's typed responses list it as 404.
        return apiError(
          c,
          404,
          "checkpoint_not_found",
          `Event ${seq} of run ${id} is not a checkpoint. Its checkpoints are in GET /runs/${id} (run.checkpoints).`,
        ) as never;
      }
      const { workspace } = await openRunWorkspace(ctx.store, id);
      const before = checkpointAt(events, seq - 1, workspace.baseRef);
      const range = { from: before.ref, to: checkpoint.data.ref };
      const [diff, changes] = await Promise.all([workspace.diff(range), workspace.changes(range)]);
      return c.json(
        { ...changes, diff, seq, label: checkpoint.data.label, from: range.from, to: range.to },
        200,
      );
    },
  );
}
