/**
 * What the run page shows, folded from the run's events: the engine's own run state (`reduceRun` from
 * src/core/state.ts, the same fold the server uses), and the timeline items, approvals, plan and ledger.
 * Pure TypeScript: the live page, the replay scrubber and the unit tests all build it the same way.
 *
 * Events are applied in seq order exactly once: anything at or below the last applied seq is dropped, so
 * a stream that reconnects and repeats itself cannot duplicate a line.
 */
import { emptyRunState, reduceRun } from "../../../src/core/state.ts";
import { FALLBACK_LABEL } from "../lib/format.ts";
import type { EntourageEvent, EventData, RunState } from "../types.ts";

export interface ApprovalInfo {
  approvalId: string;
  agentId?: string;
  callId?: string;
  tool: string;
  args: unknown;
  risk: string;
  reason: string;
  seq: number;
  time: number;
  resolved?: EventData<"approval.resolved"> & { seq: number };
}

interface Base {
  /** Stable across updates: the row's identity. */
  key: string;
  seq: number;
  time: number;
  agentId?: string;
}

export type OutputChunk = { stream: "stdout" | "stderr"; text: string };

export type TimelineItem =
  | (Base & { kind: "agent"; name: string; role: string; task: string; phase?: string })
  | (Base & {
      kind: "text" | "reasoning";
      step: number;
      text: string;
      state: "streaming" | "done" | "cut";
    })
  | (Base & {
      kind: "tool";
      callId: string;
      name: string;
      args: unknown;
      risk: string;
      state: "requested" | "waiting" | "running" | "done";
      output: OutputChunk[];
      /** Characters of streamed output dropped from the front to keep the page light. */
      droppedChars: number;
      result?: EventData<"tool.call.ended">;
      approval?: ApprovalInfo;
    })
  | (Base & { kind: "approval"; approval: ApprovalInfo })
  | (Base & {
      kind: "intervention";
      interventionId: string;
      message: string;
      by: string;
      interrupt: boolean;
      targetAgentId?: string;
      delivered?: { agentId: string; step: number };
    })
  | (Base & { kind: "plan"; title: string; plan: EventData<"plan.proposed">["plan"] })
  | (Base & { kind: "report"; name: string; report: EventData<"agent.finished">["report"]; reason: string })
  | (Base & { kind: "note"; tone: "info" | "ok" | "warn" | "error"; title: string; detail?: string });

type StreamItem = Extract<TimelineItem, { kind: "text" | "reasoning" }>;

/** Streamed output kept per tool call; older output is dropped (the log keeps all of it). */
const MAX_OUTPUT_CHARS = 200_000;

export class RunModel {
  readonly runId: string;
  readonly state: RunState;
  /** Every event applied, in seq order. */
  readonly events: EntourageEvent[] = [];
  /** Timeline items in the order they began. Items are replaced (never mutated) when they change. */
  items: TimelineItem[] = [];
  readonly approvals = new Map<string, ApprovalInfo>();
  plan?: {
    planId: string;
    plan: EventData<"plan.proposed">["plan"];
    status: "proposed" | "approved" | "revised";
  };
  ledger?: EventData<"ledger.updated"> & { seq: number };
  /** The last seq applied (-1 before any). */
  lastSeq = -1;
  /** Bumped on every change; views compare it to know when to redraw. */
  version = 0;

  readonly #index = new Map<string, number>();
  /** The open text/reasoning item per agent (undefined agent → ""). */
  readonly #openText = new Map<string, string>();
  readonly #openReasoning = new Map<string, string>();
  readonly #agentNames = new Map<string, string>();

  constructor(runId: string) {
    this.runId = runId;
    this.state = emptyRunState(runId);
  }

  /** Approvals still waiting for an answer, oldest first. */
  pendingApprovals(): ApprovalInfo[] {
    return [...this.approvals.values()].filter((a) => !a.resolved);
  }

  agentName(agentId: string | undefined): string {
    return agentId ? (this.#agentNames.get(agentId) ?? agentId) : "run";
  }

  /** Applies events in order; returns how many were new. */
  apply(events: readonly EntourageEvent[]): number {
    let applied = 0;
    for (const event of events) {
      if (event.seq <= this.lastSeq) continue;
      this.events.push(event);
      reduceRun(this.state, event);
      this.#fold(event);
      this.lastSeq = event.seq;
      applied += 1;
    }
    if (applied > 0) this.version += 1;
    return applied;
  }

  #add(item: TimelineItem): void {
    this.#index.set(item.key, this.items.length);
    this.items.push(item);
  }

  #get<K extends TimelineItem["kind"]>(key: string, kind: K): Extract<TimelineItem, { kind: K }> | undefined {
    const i = this.#index.get(key);
    const item = i === undefined ? undefined : this.items[i];
    return item?.kind === kind ? (item as Extract<TimelineItem, { kind: K }>) : undefined;
  }

  #getStream(key: string): StreamItem | undefined {
    const i = this.#index.get(key);
    const item = i === undefined ? undefined : this.items[i];
    return item?.kind === "text" || item?.kind === "reasoning" ? item : undefined;
  }

  #replace(item: TimelineItem): void {
    const i = this.#index.get(item.key);
    if (i !== undefined) this.items[i] = item;
  }

  #note(e: EntourageEvent, tone: "info" | "ok" | "warn" | "error", title: string, detail?: string): void {
    this.#add({
      kind: "note",
      key: `e${e.seq}`,
      seq: e.seq,
      time: e.time,
      agentId: e.agentId,
      tone,
      title,
      detail,
    });
  }

  #closeStream(map: Map<string, string>, agent: string, state: "done" | "cut"): void {
    const key = map.get(agent);
    if (!key) return;
    map.delete(agent);
    const item = this.#getStream(key);
    if (item && item.state === "streaming") this.#replace({ ...item, state });
  }

  #delta(e: EntourageEvent, kind: "text" | "reasoning", step: number, text: string): void {
    const agent = e.agentId ?? "";
    const map = kind === "text" ? this.#openText : this.#openReasoning;
    const key = map.get(agent);
    const open = key ? this.#getStream(key) : undefined;
    if (open && open.step === step) {
      this.#replace({ ...open, text: open.text + text });
      return;
    }
    if (open) this.#closeStream(map, agent, "cut");
    const item: TimelineItem = {
      kind,
      key: `${kind}:${e.seq}`,
      seq: e.seq,
      time: e.time,
      agentId: e.agentId,
      step,
      text,
      state: "streaming",
    };
    map.set(agent, item.key);
    this.#add(item);
  }

  #fold(e: EntourageEvent): void {
    switch (e.type) {
      case "run.created": {
        const d = e.data;
        const detail = [
          `mode ${d.mode}`,
          `approval ${d.approval}`,
          d.model.scripted
            ? "scripted demo model (not an LLM)"
            : `model ${d.model.provider}/${d.model.model}`,
          d.sandbox.isolated ? `sandbox ${d.sandbox.backend}` : `sandbox ${d.sandbox.backend}: NO ISOLATION`,
          d.forkedFrom ? `forked from ${d.forkedFrom.runId} at event ${d.forkedFrom.seq}` : undefined,
        ]
          .filter(Boolean)
          .join(" · ");
        this.#note(e, "info", "Run created", detail);
        if (d.leftOut?.length) {
          const count = d.leftOutCount ?? d.leftOut.length;
          const listed = d.leftOut.map((i) => `${i.path}: ${i.reason}`).join("\n");
          const more = count > d.leftOut.length ? `\n… and ${count - d.leftOut.length} more` : "";
          this.#add({
            kind: "note",
            key: `e${e.seq}-left-out`,
            seq: e.seq,
            time: e.time,
            tone: "warn",
            title: `Left out of the workspace: ${count} path(s)`,
            detail: listed + more,
          });
        }
        break;
      }
      case "run.status":
        this.#note(
          e,
          e.data.status === "failed" ? "error" : e.data.status === "paused" ? "warn" : "info",
          `Run ${e.data.status}`,
          e.data.reason,
        );
        break;
      case "run.finished":
        this.#closeAll("cut");
        this.#note(
          e,
          e.data.status === "succeeded" ? "ok" : e.data.status === "failed" ? "error" : "warn",
          `Run ${e.data.status}`,
          e.data.error ? `${e.data.summary}\n${e.data.error.message}` : e.data.summary,
        );
        break;
      case "run.paused":
        this.#note(e, "warn", `Paused by ${e.data.by}`, e.data.reason);
        break;
      case "run.resumed":
        this.#note(e, "info", `Resumed by ${e.data.by}`);
        break;
      case "run.forked":
        this.#note(e, "info", `Forked at event ${e.data.atSeq} into ${e.data.newRunId}`, e.data.guidance);
        break;
      case "run.attached":
        this.#note(
          e,
          "info",
          e.data.resumed ? "Resumed by a process" : "Started",
          e.data.tookOverFrom
            ? `pid ${e.data.pid}, took over from pid ${e.data.tookOverFrom.pid} (${e.data.tookOverFrom.label}), which had stopped`
            : `pid ${e.data.pid}`,
        );
        break;
      case "agent.started":
        if (e.agentId) this.#agentNames.set(e.agentId, e.data.name);
        this.#add({
          kind: "agent",
          key: `e${e.seq}`,
          seq: e.seq,
          time: e.time,
          agentId: e.agentId,
          name: e.data.name,
          role: e.data.role,
          task: e.data.task,
          phase: e.data.phase,
        });
        break;
      case "agent.handoff":
        this.#note(
          e,
          "info",
          `Hand-off ${e.data.from ? `${e.data.from} → ` : "→ "}${e.data.to}`,
          e.data.reason,
        );
        break;
      case "agent.step.started":
        // A step that starts while the previous one's text is still open: that one was cut (interrupt, retry).
        this.#closeStream(this.#openText, e.agentId ?? "", "cut");
        this.#closeStream(this.#openReasoning, e.agentId ?? "", "cut");
        break;
      case "agent.text.delta":
        this.#delta(e, "text", e.data.step, e.data.text);
        break;
      case "agent.reasoning.delta":
        this.#delta(e, "reasoning", e.data.step, e.data.text);
        break;
      case "agent.step.ended": {
        const agent = e.agentId ?? "";
        const key = this.#openText.get(agent);
        const open = key ? this.#getStream(key) : undefined;
        if (open && open.step === e.data.step) {
          this.#openText.delete(agent);
          this.#replace({ ...open, text: e.data.text || open.text, state: "done" });
        } else if (e.data.text) {
          this.#add({
            kind: "text",
            key: `text:${e.seq}`,
            seq: e.seq,
            time: e.time,
            agentId: e.agentId,
            step: e.data.step,
            text: e.data.text,
            state: "done",
          });
        }
        this.#closeStream(this.#openReasoning, agent, "done");
        break;
      }
      case "agent.finished":
        this.#closeStream(this.#openText, e.agentId ?? "", "cut");
        this.#add({
          kind: "report",
          key: `e${e.seq}`,
          seq: e.seq,
          time: e.time,
          agentId: e.agentId,
          name: e.data.name,
          report: e.data.report,
          reason: e.data.reason,
        });
        break;
      case "llm.retry":
        this.#note(
          e,
          "warn",
          `Model call retried (attempt ${e.data.attempt}${e.data.status ? `, HTTP ${e.data.status}` : ""})`,
          `${e.data.reason} · next try in ${Math.round(e.data.delayMs)} ms`,
        );
        break;
      case "tool.call.requested":
        this.#add({
          kind: "tool",
          key: `call:${e.data.callId}`,
          seq: e.seq,
          time: e.time,
          agentId: e.agentId,
          callId: e.data.callId,
          name: e.data.name,
          args: e.data.args,
          risk: e.data.risk,
          state: "requested",
          output: [],
          droppedChars: 0,
        });
        break;
      case "tool.call.started": {
        const item = this.#get(`call:${e.data.callId}`, "tool");
        if (item) this.#replace({ ...item, state: "running" });
        break;
      }
      case "tool.output.delta": {
        const item = this.#get(`call:${e.data.callId}`, "tool");
        if (!item) break;
        const output = item.output.slice();
        const last = output.at(-1);
        if (last && last.stream === e.data.stream)
          output[output.length - 1] = { ...last, text: last.text + e.data.text };
        else output.push({ stream: e.data.stream, text: e.data.text });
        let dropped = item.droppedChars;
        let total = output.reduce((n, c) => n + c.text.length, 0);
        while (total > MAX_OUTPUT_CHARS && output.length > 0) {
          const first = output[0]!;
          const cut = Math.min(first.text.length, total - MAX_OUTPUT_CHARS);
          if (cut >= first.text.length) output.shift();
          else output[0] = { ...first, text: first.text.slice(cut) };
          total -= cut;
          dropped += cut;
        }
        this.#replace({ ...item, output, droppedChars: dropped });
        break;
      }
      case "tool.call.ended": {
        const item = this.#get(`call:${e.data.callId}`, "tool");
        if (item) this.#replace({ ...item, state: "done", result: e.data });
        break;
      }
      case "approval.requested": {
        const info: ApprovalInfo = {
          approvalId: e.data.approvalId,
          agentId: e.agentId,
          callId: e.data.callId,
          tool: e.data.tool,
          args: e.data.args,
          risk: e.data.risk,
          reason: e.data.reason,
          seq: e.seq,
          time: e.time,
        };
        this.approvals.set(info.approvalId, info);
        const call = info.callId ? this.#get(`call:${info.callId}`, "tool") : undefined;
        if (call) this.#replace({ ...call, state: "waiting", approval: info });
        else
          this.#add({
            kind: "approval",
            key: `approval:${info.approvalId}`,
            seq: e.seq,
            time: e.time,
            agentId: e.agentId,
            approval: info,
          });
        break;
      }
      case "approval.resolved": {
        const info = this.approvals.get(e.data.approvalId);
        if (!info) break;
        const resolved: ApprovalInfo = { ...info, resolved: { ...e.data, seq: e.seq } };
        this.approvals.set(info.approvalId, resolved);
        const call = info.callId ? this.#get(`call:${info.callId}`, "tool") : undefined;
        if (call)
          this.#replace({
            ...call,
            state: call.state === "waiting" ? "requested" : call.state,
            approval: resolved,
          });
        const card = this.#get(`approval:${info.approvalId}`, "approval");
        if (card) this.#replace({ ...card, approval: resolved });
        break;
      }
      case "intervention.received":
        this.#add({
          kind: "intervention",
          key: `int:${e.data.interventionId}`,
          seq: e.seq,
          time: e.time,
          agentId: e.data.targetAgentId,
          interventionId: e.data.interventionId,
          message: e.data.message,
          by: e.data.by,
          interrupt: e.data.interrupt,
          targetAgentId: e.data.targetAgentId,
        });
        break;
      case "intervention.delivered": {
        const item = this.#get(`int:${e.data.interventionId}`, "intervention");
        if (item) this.#replace({ ...item, delivered: { agentId: e.data.agentId, step: e.data.step } });
        break;
      }
      case "plan.proposed":
        this.plan = { planId: e.data.planId, plan: e.data.plan, status: "proposed" };
        this.#add({
          kind: "plan",
          key: `e${e.seq}`,
          seq: e.seq,
          time: e.time,
          agentId: e.agentId,
          title: "Plan proposed",
          plan: e.data.plan,
        });
        break;
      case "plan.revised":
        this.plan = { planId: e.data.planId, plan: e.data.plan, status: "revised" };
        this.#add({
          kind: "plan",
          key: `e${e.seq}`,
          seq: e.seq,
          time: e.time,
          agentId: e.agentId,
          title: `Plan revised by ${e.data.by}${e.data.reason ? `: ${e.data.reason}` : ""}`,
          plan: e.data.plan,
        });
        break;
      case "plan.approved":
        if (this.plan?.planId === e.data.planId) this.plan = { ...this.plan, status: "approved" };
        this.#note(e, "ok", `Plan approved by ${e.data.by}`);
        break;
      case "ledger.updated":
        this.ledger = { ...e.data, seq: e.seq };
        this.#note(
          e,
          e.data.stuck ? "warn" : "info",
          `Progress ledger${e.data.done ? ": done" : e.data.stuck ? ": stuck" : ""}${e.data.next ? ` · next ${e.data.next}` : ""}`,
          e.data.note,
        );
        break;
      case "quota.exceeded": {
        const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
        this.#note(
          e,
          "error",
          `Disk quota reached: ${mb(e.data.usedBytes)} of ${mb(e.data.limitBytes)}${e.data.stopped ? " — the command was stopped" : ""}`,
          e.data.command ? `$ ${e.data.command} (workspaceQuotaMb)` : "workspaceQuotaMb",
        );
        break;
      }
      case "loop.detected":
        this.#note(
          e,
          e.data.action === "stopped" ? "error" : "warn",
          `Loop detected (${e.data.kind}): ${e.data.action}`,
          e.data.detail,
        );
        break;
      case "run.routed":
        this.#note(
          e,
          "info",
          e.data.route === "answer"
            ? "Route: answer (the Analyzer answers; no plan, no edits)"
            : "Route: change (the whole team)",
          e.data.reason,
        );
        break;
      case "protocol.fallback":
        this.#note(
          e,
          "warn",
          `${FALLBACK_LABEL[e.data.kind][0]?.toUpperCase()}${FALLBACK_LABEL[e.data.kind].slice(1)}`,
          [e.data.detail, e.data.message].filter(Boolean).join("\n"),
        );
        break;
      case "model.changed":
        this.#note(e, "info", "Model changed", e.data.reason);
        break;
      case "setup.started":
        this.#note(
          e,
          "info",
          `Setup: ${e.data.command}`,
          e.data.network === "on" ? "network on for setup" : undefined,
        );
        break;
      case "setup.ended":
        this.#note(
          e,
          e.data.exitCode === 0 && !e.data.timedOut ? "ok" : "error",
          `Setup ${e.data.timedOut ? "timed out" : `exited ${e.data.exitCode}`}`,
          e.data.output || undefined,
        );
        break;
      case "verification.started":
        this.#note(e, "info", `Verifying: ${e.data.command}`, `run by Entourage (${e.data.source})`);
        break;
      case "verification.ended":
        this.#note(
          e,
          e.data.status === "passed" ? "ok" : e.data.status === "failed" ? "error" : "warn",
          e.data.status === "passed"
            ? "Verified: tests pass"
            : e.data.status === "failed"
              ? "Verification failed"
              : "Not verified",
          [e.data.reason, e.data.output].filter(Boolean).join("\n"),
        );
        break;
      case "checkpoint.created":
        this.#note(
          e,
          "info",
          `Checkpoint: ${e.data.label}`,
          e.data.filesChanged.length > 0 ? e.data.filesChanged.join(", ") : undefined,
        );
        break;
      case "workspace.restored":
        this.#note(
          e,
          "warn",
          `Workspace restored${e.data.toSeq !== undefined ? ` to event ${e.data.toSeq}` : ""}`,
          e.data.reason,
        );
        break;
      case "workspace.merged":
        this.#note(
          e,
          e.data.conflicts.length > 0 ? "warn" : "info",
          `Merged ${e.data.merged.length} file(s)${e.data.conflicts.length > 0 ? `, ${e.data.conflicts.length} conflict(s)` : ""}`,
          [...e.data.merged, ...e.data.conflicts.map((c) => `conflict: ${c.path} (${c.reason})`)].join("\n"),
        );
        break;
      case "diff.ready":
        this.#note(
          e,
          "ok",
          `Diff ready: ${e.data.files.length} file(s), +${e.data.insertions} −${e.data.deletions}`,
          e.data.files.map((f) => `${f.status} ${f.path}`).join("\n"),
        );
        break;
      case "diff.applied":
        this.#note(e, "ok", `Applied to ${e.data.target}`, e.data.files.join(", "));
        break;
      case "extension.loaded":
        this.#note(
          e,
          "info",
          `Loaded ${e.data.kind} ${e.data.name}${e.data.kind === "instructions" || e.data.kind === "settings" ? " (from the repository)" : ""}`,
          [e.data.source, e.data.note, e.data.tools?.join(", ")].filter(Boolean).join("\n"),
        );
        break;
      case "lesson.used":
        this.#note(
          e,
          "info",
          `${e.data.lessonIds.length} lesson(s) from the repository's ${e.data.file} given to every agent`,
        );
        break;
      case "extension.failed":
        this.#note(
          e,
          "warn",
          e.data.kind === "settings"
            ? "Repository settings left out (not trusted)"
            : `Could not load ${e.data.kind} ${e.data.name ?? ""}`.trim(),
          e.data.message,
        );
        break;
      case "lesson.proposed":
        this.#note(e, "info", "Lesson proposed", e.data.text);
        break;
      case "lesson.saved":
        this.#note(e, "ok", "Lesson saved", e.data.text);
        break;
      default:
        break;
    }
  }

  #closeAll(state: "done" | "cut"): void {
    for (const agent of [...this.#openText.keys()]) this.#closeStream(this.#openText, agent, state);
    for (const agent of [...this.#openReasoning.keys()]) this.#closeStream(this.#openReasoning, agent, state);
  }
}

/** The model of a run's first `count` events (the replay scrubber). */
export function modelAt(runId: string, events: readonly EntourageEvent[], uptoSeq: number): RunModel {
  const model = new RunModel(runId);
  let end = events.length;
  while (end > 0 && events[end - 1]!.seq > uptoSeq) end -= 1;
  model.apply(events.slice(0, end));
  return model;
}
