import { type EntourageEvent, type EventData, PLAN_APPROVAL_TOOL } from "../core/index.ts";

/**
 * The corrections a person made during a run, found in its log: a denial with a reason, a plan sent back
 * with a reason, an edited plan, and an intervention. Answers given by a rule, a timeout, `--yes` or an
 * agent (the dynamic planner revises its own plan) are not corrections.
 */

export type CorrectionKind = NonNullable<EventData<"lesson.proposed">["correction"]>["kind"];

export interface Correction {
  /** The event the correction is recorded in: the lesson's provenance. */
  seq: number;
  kind: CorrectionKind;
  /** What the person said (the reason, the message), or a summary of what they changed. */
  said: string;
  /** What the agent was doing, for the drafting prompt. */
  context: string;
  by: string;
}

const NOT_A_PERSON = new Set(["rule", "timeout", "--yes", "auto", "planner", "agent", "system"]);

export function byPerson(by: string): boolean {
  return !NOT_A_PERSON.has(by);
}

/**
 * Where the run's own events start. A fork copies its parent's history (whose corrections belong to the
 * parent) between its `run.created`/`run.status queued` and the `run.status paused` that ends the copy.
 */
function ownStart(events: readonly EntourageEvent[]): number {
  const created = events.find((e) => e.type === "run.created");
  if (created?.type !== "run.created" || !created.data.forkedFrom) return 0;
  const end = events.find((e, i) => i > 1 && e.type === "run.status");
  return end ? end.seq : 0;
}

export function findCorrections(events: readonly EntourageEvent[]): Correction[] {
  const start = ownStart(events);
  const corrections: Correction[] = [];
  for (const e of events) {
    if (e.seq < start) continue;
    if (e.type === "approval.resolved" && e.data.decision === "deny" && byPerson(e.data.by)) {
      const reason = e.data.reason?.trim();
      if (!reason) continue; // a bare "no" teaches nothing general
      const asked = events.find(
        (r) => r.type === "approval.requested" && r.data.approvalId === e.data.approvalId,
      );
      const request = asked?.type === "approval.requested" ? asked.data : undefined;
      if (request?.tool === PLAN_APPROVAL_TOOL) {
        corrections.push({
          seq: e.seq,
          kind: "plan-sent-back",
          said: reason,
          context: `The agent proposed this plan, and the person sent it back:\n${planText(request.args)}`,
          by: e.data.by,
        });
      } else {
        corrections.push({
          seq: e.seq,
          kind: "denial",
          said: reason,
          context: request
            ? `The agent wanted to call ${request.tool} with ${short(JSON.stringify(request.args))}; the person denied it.`
            : "The person denied a tool call.",
          by: e.data.by,
        });
      }
    } else if (e.type === "plan.revised" && byPerson(e.data.by)) {
      const before = events.findLast(
        (p) =>
          p.seq < e.seq &&
          (p.type === "plan.proposed" || p.type === "plan.revised") &&
          p.data.planId === e.data.planId,
      );
      const old =
        before?.type === "plan.proposed" || before?.type === "plan.revised" ? before.data.plan : undefined;
      const change = planChange(old, e.data.plan);
      corrections.push({
        seq: e.seq,
        kind: "plan-edit",
        said: e.data.reason?.trim() || change,
        context: `The person edited the agent's plan. ${change}\n\nPlan before:\n${planText(old)}\n\nPlan after:\n${planText(e.data.plan)}`,
        by: e.data.by,
      });
    } else if (e.type === "intervention.received" && byPerson(e.data.by)) {
      const message = e.data.message.trim();
      if (!message) continue;
      const lastText = events.findLast((s) => s.seq < e.seq && s.type === "agent.step.ended");
      const doing =
        lastText?.type === "agent.step.ended" && lastText.data.text
          ? `The agent had just said: ${short(lastText.data.text)}`
          : "";
      corrections.push({
        seq: e.seq,
        kind: "intervention",
        said: message,
        context: `The person sent the agent this message while it worked.${doing ? ` ${doing}` : ""}`,
        by: e.data.by,
      });
    }
  }
  return corrections;
}

type Plan = EventData<"plan.revised">["plan"];

function planText(plan: unknown): string {
  const p = plan as Partial<Plan> | undefined;
  if (!p?.steps) return short(JSON.stringify(plan ?? null));
  return p.steps.map((s, i) => `${i + 1}. ${s.description} (${s.owner})`).join("\n");
}

/** "removed step: …; added step: …" between two plans. */
function planChange(before: Plan | undefined, after: Plan): string {
  const old = new Set(before?.steps.map((s) => s.description) ?? []);
  const now = new Set(after.steps.map((s) => s.description));
  const removed = [...old].filter((d) => !now.has(d));
  const added = [...now].filter((d) => !old.has(d));
  const parts = [...removed.map((d) => `removed step "${d}"`), ...added.map((d) => `added step "${d}"`)];
  return parts.length > 0 ? `The person ${parts.join("; ")}.` : "The person reordered or reassigned steps.";
}

function short(text: string, max = 400): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
