/**
 * What the run page shows, folded from the run's events: the engine's own run state (`reduceRun` from
 * src/core/state.ts, the same fold the server uses), and the timeline items, approvals, plan and ledger.
 * The words of every note come from `describeEvent` (src/core/describe-event.ts), the same the terminal
 * prints; this file only decides which events make rows of their own and how those rows change.
 * Pure TypeScript: the live page, the replay scrubber and the unit tests all build it the same way.
 *
 * Events are applied in seq order exactly once: anything at or below the last applied seq is dropped, so
 * a stream that reconnects and repeats itself cannot duplicate a line.
 */
import { describeEvent, EventContext, type EventDescription } from "../../../src/core/describe-event.ts";
import { emptyRunState, reduceRun } from "../../../src/core/state.ts";
import type { EntourageEvent, EventData, EventOf, EventType, RunState } from "../types.ts";

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
type ToolItem = Extract<TimelineItem, { kind: "tool" }>;

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
  readonly #context = new EventContext();

  constructor(runId: string) {
    this.runId = runId;
    this.state = emptyRunState(runId);
  }

  /** Approvals still waiting for an answer, oldest first. */
  pendingApprovals(): ApprovalInfo[] {
    return [...this.approvals.values()].filter((a) => !a.resolved);
  }

  agentName(agentId: string | undefined): string {
    return agentId ? (this.#context.agentName(agentId) ?? agentId) : "run";
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

  /** An event with no row of its own: a note with its shared description's words. */
  #note(e: EntourageEvent, d: EventDescription, key = `e${e.seq}`): void {
    const list = d.list && [
      ...d.list.items,
      ...(d.list.total > d.list.items.length ? [`… and ${d.list.total - d.list.items.length} more`] : []),
    ];
    const detail = [...(d.lines ?? []), ...(list ?? []), d.detail].filter(Boolean).join("\n");
    this.#add({
      kind: "note",
      key,
      seq: e.seq,
      time: e.time,
      agentId: e.agentId,
      tone: d.tone,
      title: [d.mark, d.subject, d.title].filter(Boolean).join(" "),
      detail: detail || undefined,
    });
    for (const [i, more] of (d.also ?? []).entries()) this.#note(e, more, `${key}-${i + 1}`);
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
    this.#context.observe(e);
    // What the page keeps besides the rows: the plan, the ledger; an ended run cuts what still streams.
    if (e.type === "run.finished") this.#closeAll("cut");
    if (e.type === "plan.approved" && this.plan?.planId === e.data.planId)
      this.plan = { ...this.plan, status: "approved" };
    if (e.type === "ledger.updated") this.ledger = { ...e.data, seq: e.seq };
    const row = this.#rows[e.type] as ((e: EntourageEvent) => void) | undefined;
    if (row) row(e);
    else {
      const description = describeEvent(e, this.#context);
      if (!description.minor) this.#note(e, description);
    }
  }

  /**
   * The events that make or change a row of their own (an agent, streamed text, a tool call with its
   * approval and output, an intervention, a plan); every other event is a note.
   */
  readonly #rows: { [T in EventType]?: (e: EventOf<T>) => void } = {
    "agent.started": (e) =>
      this.#add({
        kind: "agent",
        ...this.#base(e),
        name: e.data.name,
        role: e.data.role,
        task: e.data.task,
        phase: e.data.phase,
      }),
    // A step that starts while the previous one's text is still open: that one was cut (interrupt, retry).
    "agent.step.started": (e) => {
      this.#closeStream(this.#openText, e.agentId ?? "", "cut");
      this.#closeStream(this.#openReasoning, e.agentId ?? "", "cut");
    },
    "agent.text.delta": (e) => this.#delta(e, "text", e.data.step, e.data.text),
    "agent.reasoning.delta": (e) => this.#delta(e, "reasoning", e.data.step, e.data.text),
    "agent.step.ended": (e) => this.#stepEnded(e),
    "agent.finished": (e) => {
      this.#closeStream(this.#openText, e.agentId ?? "", "cut");
      this.#add({
        kind: "report",
        ...this.#base(e),
        name: e.data.name,
        report: e.data.report,
        reason: e.data.reason,
      });
    },
    "tool.call.requested": (e) =>
      this.#add({
        kind: "tool",
        ...this.#base(e),
        key: `call:${e.data.callId}`,
        callId: e.data.callId,
        name: e.data.name,
        args: e.data.args,
        risk: e.data.risk,
        state: "requested",
        output: [],
        droppedChars: 0,
      }),
    "tool.call.started": (e) => this.#updateCall(e.data.callId, (item) => ({ ...item, state: "running" })),
    "tool.output.delta": (e) => this.#updateCall(e.data.callId, (item) => withOutput(item, e.data)),
    "tool.call.ended": (e) =>
      this.#updateCall(e.data.callId, (item) => ({ ...item, state: "done", result: e.data })),
    "approval.requested": (e) => this.#approvalRequested(e),
    "approval.resolved": (e) => this.#approvalResolved(e),
    "intervention.received": (e) =>
      this.#add({
        kind: "intervention",
        ...this.#base(e),
        key: `int:${e.data.interventionId}`,
        agentId: e.data.targetAgentId,
        interventionId: e.data.interventionId,
        message: e.data.message,
        by: e.data.by,
        interrupt: e.data.interrupt,
        targetAgentId: e.data.targetAgentId,
      }),
    "intervention.delivered": (e) => {
      const item = this.#get(`int:${e.data.interventionId}`, "intervention");
      if (item) this.#replace({ ...item, delivered: { agentId: e.data.agentId, step: e.data.step } });
    },
    "plan.proposed": (e) => this.#planItem(e, "proposed"),
    "plan.revised": (e) => this.#planItem(e, "revised"),
  };

  #base(e: EntourageEvent): Base {
    return { key: `e${e.seq}`, seq: e.seq, time: e.time, agentId: e.agentId };
  }

  #updateCall(callId: string, change: (item: ToolItem) => ToolItem): void {
    const item = this.#get(`call:${callId}`, "tool");
    if (item) this.#replace(change(item));
  }

  #stepEnded(e: EventOf<"agent.step.ended">): void {
    const agent = e.agentId ?? "";
    const key = this.#openText.get(agent);
    const open = key ? this.#getStream(key) : undefined;
    if (open && open.step === e.data.step) {
      this.#openText.delete(agent);
      this.#replace({ ...open, text: e.data.text || open.text, state: "done" });
    } else if (e.data.text) {
      this.#add({
        kind: "text",
        ...this.#base(e),
        key: `text:${e.seq}`,
        step: e.data.step,
        text: e.data.text,
        state: "done",
      });
    }
    this.#closeStream(this.#openReasoning, agent, "done");
  }

  #approvalRequested(e: EventOf<"approval.requested">): void {
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
      this.#add({ kind: "approval", ...this.#base(e), key: `approval:${info.approvalId}`, approval: info });
  }

  #approvalResolved(e: EventOf<"approval.resolved">): void {
    const info = this.approvals.get(e.data.approvalId);
    if (!info) return;
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
  }

  #planItem(e: EventOf<"plan.proposed" | "plan.revised">, status: "proposed" | "revised"): void {
    this.plan = { planId: e.data.planId, plan: e.data.plan, status };
    const title = describeEvent(e, this.#context).title;
    this.#add({ kind: "plan", ...this.#base(e), title, plan: e.data.plan });
  }

  #closeAll(state: "done" | "cut"): void {
    for (const agent of [...this.#openText.keys()]) this.#closeStream(this.#openText, agent, state);
    for (const agent of [...this.#openReasoning.keys()]) this.#closeStream(this.#openReasoning, agent, state);
  }
}

/** A tool row with one more chunk of output, the oldest output dropped past MAX_OUTPUT_CHARS. */
function withOutput(item: ToolItem, chunk: OutputChunk): ToolItem {
  const output = item.output.slice();
  const last = output.at(-1);
  if (last && last.stream === chunk.stream)
    output[output.length - 1] = { ...last, text: last.text + chunk.text };
  else output.push({ stream: chunk.stream, text: chunk.text });
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
  return { ...item, output, droppedChars: dropped };
}

/** The model of a run's first `count` events (the replay scrubber). */
export function modelAt(runId: string, events: readonly EntourageEvent[], uptoSeq: number): RunModel {
  const model = new RunModel(runId);
  let end = events.length;
  while (end > 0 && events[end - 1]!.seq > uptoSeq) end -= 1;
  model.apply(events.slice(0, end));
  return model;
}
