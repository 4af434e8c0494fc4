import {
  AbortedError,
  type ApprovalRule,
  EntourageError,
  type EventData,
  type IdGenerator,
} from "../../core/index.ts";
import type { RunEmitter } from "../emitter.ts";
import type { ApprovalDecision, ApprovalRequest, Approver } from "./approval.ts";

/** A request for a person's answer, waiting. */
export interface PendingApproval {
  request: ApprovalRequest;
  since: number;
}

export interface RunControlOptions {
  ids: IdGenerator;
  /** Answers from this process's own prompt (the terminal), raced against API answers. */
  localApprover?: Approver;
  /** After this long without an answer, `timeoutDecision` applies (by "timeout"). */
  approvalTimeoutMs?: number;
  timeoutDecision?: "approve" | "deny";
  /** Persists an "always allow" rule (e.g. into the project's .entourage/config.json). */
  saveRule?: (rule: ApprovalRule) => Promise<void>;
}

/**
 * The live handle on a run being driven in this process: the one place through which people steer it,
 * whichever client they use (terminal, HTTP API, dashboard). Every act is an event; the engine reads the
 * consequences (interventions, pause) from the log and from the waits this object provides.
 *
 * Approvals: the engine asks `approver`; the request waits here until the first answer — the local
 * prompt, an API call or the timeout. Later answers get an `approval_answered` conflict error.
 */
export class RunControl {
  readonly runId: string;
  private emitter: RunEmitter | undefined;
  private readonly options: RunControlOptions;
  private readonly pending = new Map<
    string,
    { entry: PendingApproval; resolve: (d: ApprovalDecision) => void; cancelLocal: AbortController }
  >();
  private readonly answered = new Map<string, ApprovalDecision>();
  private pausedBy: string | undefined;
  private resumeWaiters: (() => void)[] = [];
  private readonly runAbort = new AbortController();
  private readonly stepAborts = new Map<string, AbortController>();
  /** Rules learned during this run ("always allow"): they bind every agent from then on. */
  readonly learnedRules: ApprovalRule[] = [];
  cancelled: { by: string; reason?: string } | undefined;

  constructor(runId: string, options: RunControlOptions) {
    this.runId = runId;
    this.options = options;
  }

  #attached = Promise.withResolvers<void>();

  /** Connects the control to the emitter of the process driving the run. */
  attach(emitter: RunEmitter): void {
    this.emitter = emitter;
    this.#attached.resolve();
  }

  /** Resolves once the engine has attached its emitter (acts that arrive earlier wait for it). */
  get attached(): Promise<void> {
    return this.#attached.promise;
  }

  /** Aborted by `cancel`; combine it with the process's own signal (SIGINT). */
  get signal(): AbortSignal {
    return this.runAbort.signal;
  }

  get paused(): boolean {
    return this.pausedBy !== undefined;
  }

  private requireEmitter(): RunEmitter {
    if (!this.emitter)
      throw new EntourageError("run_not_live", `Run ${this.runId} is not being driven by this process.`);
    return this.emitter;
  }

  /** Logs the answer to a person's act that reached this driver through the log (steer-log.ts). */
  async acknowledge(data: EventData<"steer.handled">): Promise<void> {
    await this.requireEmitter().emit({ type: "steer.handled", data });
  }

  // ---- approvals ------------------------------------------------------------------------------------

  readonly approver: Approver = (request, signal) =>
    new Promise<ApprovalDecision>((resolve, reject) => {
      const cancelLocal = new AbortController();
      const entry = { request, since: Date.now() };
      const settle = (decision: ApprovalDecision) => {
        if (!this.pending.has(request.approvalId)) return;
        this.pending.delete(request.approvalId);
        this.answered.set(request.approvalId, decision);
        cancelLocal.abort();
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(decision);
      };
      const onAbort = () => {
        this.pending.delete(request.approvalId);
        cancelLocal.abort();
        clearTimeout(timer);
        reject(new AbortedError("the run was interrupted while waiting for an approval"));
      };
      this.pending.set(request.approvalId, { entry, resolve: settle, cancelLocal });
      signal.addEventListener("abort", onAbort, { once: true });
      const timer =
        this.options.approvalTimeoutMs !== undefined
          ? setTimeout(
              () =>
                settle({
                  decision: this.options.timeoutDecision ?? "deny",
                  by: "timeout",
                  reason: `no answer within ${Math.round(this.options.approvalTimeoutMs! / 1000)} s`,
                }),
              this.options.approvalTimeoutMs,
            )
          : undefined;
      this.options.localApprover?.(request, cancelLocal.signal).then(
        (decision) => settle(decision),
        (error: unknown) => {
          // The local prompt gave up (no terminal, or another client answered first): keep waiting for the API
          // unless nothing else can answer.
          if (cancelLocal.signal.aborted) return;
          if (this.pending.has(request.approvalId) && !this.hasRemoteClients) reject(error);
        },
      );
    });

  /** True when something besides the local prompt can answer (an API server is listening). */
  hasRemoteClients = false;

  pendingApprovals(): PendingApproval[] {
    return [...this.pending.values()].map((p) => p.entry);
  }

  /** Answers a waiting approval. The first answer wins; a later one gets a conflict error. */
  answer(approvalId: string, decision: ApprovalDecision): void {
    const waiting = this.pending.get(approvalId);
    if (!waiting) {
      if (this.answered.has(approvalId)) {
        const first = this.answered.get(approvalId)!;
        throw new EntourageError(
          "approval_answered",
          `Approval ${approvalId} was already answered (${first.decision} by ${first.by}).`,
        );
      }
      throw new EntourageError(
        "approval_not_found",
        `No approval ${approvalId} is waiting in run ${this.runId}.`,
      );
    }
    waiting.resolve(decision);
  }

  /** Saves an "always allow" rule learned from an answer and makes it bind the rest of the run. */
  async learn(rule: ApprovalRule): Promise<void> {
    this.learnedRules.push(rule);
    await this.options.saveRule?.(rule);
  }

  // ---- interventions --------------------------------------------------------------------------------

  /**
   * A message from a person to the run (any agent: the next one to reach a step boundary) or to one
   * agent. With `interrupt`, the agent's in-flight model call is aborted and the message delivered at once.
   */
  async intervene(input: {
    message: string;
    targetAgentId?: string;
    interrupt?: boolean;
    /** Stop the agent and start its phase over (with `to`: hand it to that agent). Implies interrupt. */
    redirect?: { to?: string };
    by: string;
  }): Promise<string> {
    const interventionId = this.options.ids("int");
    await this.requireEmitter().emit({
      type: "intervention.received",
      data: {
        interventionId,
        message: input.message,
        targetAgentId: input.targetAgentId,
        interrupt: input.interrupt ?? input.redirect !== undefined,
        redirect: input.redirect,
        by: input.by,
      },
    });
    if (input.interrupt || input.redirect) {
      for (const [agentId, controller] of this.stepAborts) {
        if (!input.targetAgentId || input.targetAgentId === agentId)
          controller.abort(new AbortedError("interrupted by the user"));
      }
    }
    return interventionId;
  }

  /** A signal for one model call of `agentId`: aborted by the run's end or by an interrupting message. */
  stepSignal(
    agentId: string,
    runSignal: AbortSignal,
  ): { signal: AbortSignal; interrupted: () => boolean; done: () => void } {
    const controller = new AbortController();
    this.stepAborts.set(agentId, controller);
    return {
      signal: AbortSignal.any([runSignal, controller.signal]),
      interrupted: () => controller.signal.aborted && !runSignal.aborted,
      done: () => {
        if (this.stepAborts.get(agentId) === controller) this.stepAborts.delete(agentId);
      },
    };
  }

  // ---- pause / resume / cancel ----------------------------------------------------------------------

  async pause(by: string, reason?: string): Promise<void> {
    if (this.pausedBy) return;
    this.pausedBy = by;
    await this.requireEmitter().emit({ type: "run.paused", data: { by, reason } });
  }

  async resume(by: string): Promise<void> {
    if (!this.pausedBy) return;
    this.pausedBy = undefined;
    await this.requireEmitter().emit({ type: "run.resumed", data: { by } });
    for (const wake of this.resumeWaiters.splice(0)) wake();
  }

  /** Stops the run for good: it ends `cancelled` (its log stays, and it can still be forked). */
  cancel(by: string, reason?: string): void {
    this.cancelled ??= { by, reason };
    this.runAbort.abort(new AbortedError(`cancelled by ${by}`));
    for (const wake of this.resumeWaiters.splice(0)) wake();
  }

  /** Resolves when the run is not paused; agents call it at every step boundary. */
  async gate(signal: AbortSignal): Promise<void> {
    while (this.pausedBy && !signal.aborted) {
      await new Promise<void>((resolve) => {
        this.resumeWaiters.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    if (signal.aborted) throw new AbortedError("the run was interrupted");
  }
}
