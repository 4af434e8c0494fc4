import { createRoute, z } from "@hono/zod-openapi";
import {
  type ApprovalRule,
  alwaysAllowRule,
  describeRule,
  EntourageError,
  failedOnModel,
  foldRun,
  isTerminal,
  type RunStatus,
  UserError,
} from "../../core/index.ts";
import { type DriverInfo, describeDriver, liveDriver } from "../../store/index.ts";
import {
  approvalAnswerBody,
  approvalAnsweredSchema,
  approvalParams,
  errorSchema,
  interventionBody,
  reasonBody,
  resumeBody,
  runParams,
  runStatusResponse,
} from "../schemas.ts";
import { type Steering, steeringOf } from "../steering.ts";
import type { App, RouteContext } from "./context.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const err = (description: string) => json(errorSchema, description);
const body = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { "application/json": { schema } },
});
const notLiveResponse = err("No process drives the run (or it has ended)");

/** How to steer a run: here, or through the log to its live driver; 404 unknown, 409 nobody drives it. */
async function steer(ctx: RouteContext, runId: string): Promise<Steering> {
  const steering = await steeringOf(ctx, runId);
  if (steering) return steering;
  const state = await ctx.states.get(runId);
  if (!state) throw new EntourageError("run_not_found", `No run with id ${runId}. List runs with GET /runs.`);
  throw notLive(runId, state.status);
}

function notLive(runId: string, status: RunStatus, driving?: DriverInfo): EntourageError {
  if (isTerminal(status))
    return new EntourageError("run_not_live", `Run ${runId} has ${status}; there is nothing to steer.`);
  if (driving)
    return new EntourageError(
      "run_live",
      `Run ${runId} (${status}) is driven by ${describeDriver(driving)}; it cannot be taken over while that process lives.`,
    );
  return new EntourageError(
    "run_not_live",
    `Run ${runId} (${status}) is not driven by any process, so there is nothing to steer. ` +
      `Continue it with POST /runs/${runId}/resume on an \`entourage serve\` server, or \`entourage resume ${runId}\`.`,
  );
}

export function controlRoutes(app: App, ctx: RouteContext): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/approvals/{approvalId}",
      summary: "Answer a waiting approval: approve, deny (with a reason the model reads) or edit",
      description:
        "The first answer wins, whichever client gives it (terminal, API, dashboard); a later one gets 409.",
      request: { params: approvalParams, body: body(approvalAnswerBody) },
      responses: {
        200: json(approvalAnsweredSchema, "The answer was taken"),
        400: err("Invalid answer (e.g. edit without editedArgs)"),
        404: err("No such run or approval"),
        409: err("Already answered, or the run is not driven here"),
      },
    }),
    async (c) => {
      const { id, approvalId } = c.req.valid("param");
      const answer = c.req.valid("json");
      if (answer.decision === "edit" && answer.editedArgs === undefined)
        throw new UserError("invalid_request", "body.editedArgs: required when decision is edit");
      const control = await steer(ctx, id);
      const pending = (await control.pendingApprovals()).find((p) => p.approvalId === approvalId);
      let rule: ApprovalRule | undefined;
      if (answer.rule !== undefined && pending) {
        const derived = alwaysAllowRule(pending);
        if (!derived)
          throw new UserError("invalid_request", "body.rule: the plan checkpoint cannot be always allowed");
        if (answer.decision === "deny")
          throw new UserError("invalid_request", "body.rule: only an approval can be always allowed");
        rule = answer.rule === true ? derived : answer.rule;
      }
      const by = answer.by ?? "api";
      // Throws approval_answered (409) or approval_not_found (404) when nothing waits under this id.
      await control.answer(approvalId, {
        decision: answer.decision,
        by,
        reason: answer.reason,
        editedArgs: answer.editedArgs,
        rule,
      });
      return c.json(
        {
          approvalId,
          decision: answer.decision,
          by,
          ruleLearned: rule ? describeRule(rule) : undefined,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/interventions",
      summary: "Send a message to the run (or one agent): at its next step, or at once with interrupt",
      request: { params: runParams, body: body(interventionBody) },
      responses: {
        202: json(z.object({ interventionId: z.string() }), "Received; delivered at the agent's next step"),
        400: err("Invalid body"),
        404: err("No such run"),
        409: notLiveResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { message, targetAgentId, interrupt, redirect, by } = c.req.valid("json");
      const control = await steer(ctx, id);
      const interventionId = await control.intervene({
        message,
        targetAgentId,
        interrupt,
        redirect,
        by: by ?? "api",
      });
      return c.json({ interventionId }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/pause",
      summary: "Pause the run at its agents' next step boundary",
      request: { params: runParams, body: body(reasonBody, false) },
      responses: { 200: json(runStatusResponse, "Paused"), 404: err("No such run"), 409: notLiveResponse },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const control = await steer(ctx, id);
      const { reason, by } = c.req.valid("json");
      await control.pause(by ?? "api", reason);
      return c.json({ runId: id, status: "paused" }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/resume",
      summary:
        "Resume a paused run; on `entourage serve`, also continue a run nobody drives (optionally on another model), or one that failed because its model failed",
      request: { params: runParams, body: body(resumeBody, false) },
      responses: {
        200: json(runStatusResponse, "Running again"),
        202: json(runStatusResponse, "This server now drives the run from where its log stops"),
        404: err("No such run"),
        409: err("The run has ended, or is driven by another process"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { by, ...model } = c.req.valid("json");
      const control = await steeringOf(ctx, id);
      if (control) {
        await control.resume(by ?? "api");
        return c.json({ runId: id, status: "running" }, 200);
      }
      const events = await ctx.store.read(id);
      if (events.length === 0)
        throw new EntourageError("run_not_found", `No run with id ${id}. List runs with GET /runs.`);
      const state = foldRun(id, events);
      // A driver that appeared since steeringOf looked (a worker taking the run) keeps it.
      const driving = await liveDriver(ctx.store, id);
      if (!ctx.launcher || (isTerminal(state.status) && !failedOnModel(state)) || driving)
        throw notLive(id, state.status, driving);
      await ctx.launcher.continue(id, model);
      return c.json({ runId: id, status: "running" }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/cancel",
      summary: "Stop the run for good: it ends cancelled (its log stays; it can still be forked)",
      request: { params: runParams, body: body(reasonBody, false) },
      responses: {
        202: json(runStatusResponse, "Cancelling"),
        404: err("No such run"),
        409: notLiveResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const control = await steer(ctx, id);
      const { reason, by } = c.req.valid("json");
      await control.cancel(by ?? "api", reason);
      return c.json({ runId: id, status: "cancelling" }, 202);
    },
  );
}
