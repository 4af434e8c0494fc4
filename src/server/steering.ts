/**
 * How the server steers a run, wherever it is driven: a run this process drives is steered through its
 * `RunControl` directly; a run another live process drives (a worker, an `entourage run` elsewhere) is
 * steered through the run's log (steer-log.ts), and the answer is the driver's own.
 */
import type { WaitingApproval } from "../core/index.ts";
import type { ApprovalDecision, RunControl } from "../orchestrator/index.ts";
import { requestSteer, type SteerAct } from "../orchestrator/index.ts";
import { liveDriver, type RunLease } from "../store/index.ts";
import type { RouteContext } from "./routes/context.ts";

export interface Steering {
  /** Where the run is driven: here, or by the process holding this lease. */
  where: { here: true } | { here: false; driver: RunLease };
  /** The approvals the run waits for, oldest first. */
  pendingApprovals(): Promise<WaitingApproval[]>;
  answer(approvalId: string, decision: ApprovalDecision): Promise<void>;
  intervene(input: Parameters<RunControl["intervene"]>[0]): Promise<string>;
  pause(by: string, reason?: string): Promise<void>;
  resume(by: string): Promise<void>;
  cancel(by: string, reason?: string): Promise<void>;
}

/** The steering of a run: here, through the log to its live driver, or undefined when nobody drives it. */
export async function steeringOf(ctx: RouteContext, runId: string): Promise<Steering | undefined> {
  const control = ctx.runs.get(runId);
  if (control) return local(control);
  const driver = await liveDriver(ctx.store, runId);
  return driver ? throughLog(ctx, runId, driver) : undefined;
}

function local(control: RunControl): Steering {
  return {
    where: { here: true },
    pendingApprovals: async () =>
      control.pendingApprovals().map(({ request, since }) => ({
        approvalId: request.approvalId,
        agentId: request.agentId,
        tool: request.tool,
        args: request.args,
        risk: request.risk,
        reason: request.reason,
        since,
      })),
    answer: async (approvalId, decision) => control.answer(approvalId, decision),
    intervene: (input) => control.intervene(input),
    pause: (by, reason) => control.pause(by, reason),
    resume: (by) => control.resume(by),
    cancel: async (by, reason) => control.cancel(by, reason),
  };
}

function throughLog(ctx: RouteContext, runId: string, driver: RunLease): Steering {
  const send = (act: SteerAct, by: string) => requestSteer(ctx.store, runId, act, { by, ids: ctx.ids });
  return {
    where: { here: false, driver },
    // Folded with the run's state (cached; only new events are read): the dashboard polls this.
    pendingApprovals: async () => (await ctx.states.get(runId))?.pendingApprovals ?? [],
    answer: async (approvalId, d) => {
      const rule = d.rule && { ...d.rule, action: "allow" as const };
      await send(
        {
          kind: "answer",
          approvalId,
          decision: d.decision,
          reason: d.reason,
          editedArgs: d.editedArgs,
          rule,
        },
        d.by,
      );
    },
    intervene: async ({ by, ...act }) => (await send({ kind: "intervene", ...act }, by)).interventionId!,
    pause: async (by, reason) => {
      await send({ kind: "pause", reason }, by);
    },
    resume: async (by) => {
      await send({ kind: "resume" }, by);
    },
    cancel: async (by, reason) => {
      await send({ kind: "cancel", reason }, by);
    },
  };
}
