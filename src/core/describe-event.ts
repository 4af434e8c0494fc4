/**
 * What each event says, in words, once for every view: the terminal (`run`, `attach`, `show`) and the
 * dashboard both read these descriptions and only lay them out (colours, indentation, truncation, grouping
 * tool calls into rows). Adding an event type means adding its words here; the `Record` below makes a
 * missing one a compile error.
 */
import type { EntourageEvent, EventOf, EventType } from "./events/index.ts";
import { FALLBACK_LABEL, formatCost, formatDuration, formatTokens, printablePath } from "./format.ts";
import type { ReportStatus } from "./vocabulary.ts";

/** What kind of news: the terminal's colour, the dashboard note's tone. */
export type Tone = "info" | "ok" | "warn" | "error";

export interface EventDescription {
  tone: Tone;
  /** One line, as a person reads it at a glance (lower case first, as the terminal prints it). */
  title: string;
  /** The sign in front of the title: ✓ ✘ ⇢ ↪ ⟲ ◆ … */
  mark?: string;
  /** Who or what the line is about (an agent, a tool), printed before the title and emphasised. */
  subject?: string;
  /** Where it sits: 0 the run's and the agents' lifecycle, 1 what happens in the run, 2 part of a tool call. */
  depth: 0 | 1 | 2;
  /** Routine news: the terminal dims it. */
  quiet?: boolean;
  /**
   * Bookkeeping with no words a person needs (usage, deltas, lifecycle steps that other lines already say):
   * the views leave it out of their text, though they may still use the event.
   */
  minor?: boolean;
  /** Lines below the title that every view shows in full (plan steps, a summary). */
  lines?: string[];
  /** A list a compact view may cut: `items` are what the event holds, `total` how many there were. */
  list?: { items: string[]; total: number };
  /** Longer text for views with room (command output, file lists); the terminal leaves it out. */
  detail?: string;
  /** Further lines the same event says, each on its own (the paths left out of a run's workspace). */
  also?: EventDescription[];
}

/** The little a description needs beyond its event: names from `agent.started`, the start from `run.created`. */
export interface DescribeContext {
  agentName(agentId: string): string | undefined;
  readonly startedAt?: number;
  /** The status of the last agent report (`agent.finished`): the one a failed run ended on. */
  readonly lastReport?: ReportStatus;
}

/** Keeps a `DescribeContext` up to date: give it every event, in order, before describing it. */
export class EventContext implements DescribeContext {
  readonly #names = new Map<string, string>();
  startedAt?: number;
  lastReport?: ReportStatus;

  observe(event: EntourageEvent): void {
    if (event.type === "agent.started" && event.agentId) this.#names.set(event.agentId, event.data.name);
    if (event.type === "run.created") this.startedAt = event.time;
    if (event.type === "agent.finished") this.lastReport = event.data.report.status;
  }

  agentName(agentId: string): string | undefined {
    return this.#names.get(agentId);
  }
}

const NO_CONTEXT: DescribeContext = { agentName: () => undefined };

/**
 * The words of one event. A type this build does not know (a dashboard older than the server that wrote
 * the log) reads as its name.
 */
export function describeEvent(
  event: EntourageEvent,
  context: DescribeContext = NO_CONTEXT,
): EventDescription {
  const describe = DESCRIBERS[event.type] as Describer<EventType> | undefined;
  return describe ? describe(event, context) : note("info", event.type);
}

/** The event types that have words of their own (all of them: a test checks it). */
export function describedTypes(): string[] {
  return Object.keys(DESCRIBERS);
}

type Describer<T extends EventType> = (event: EventOf<T>, context: DescribeContext) => EventDescription;

const note = (tone: Tone, title: string, more: Partial<EventDescription> = {}): EventDescription => ({
  tone,
  title,
  depth: 1,
  ...more,
});
const minor = (title: string, more: Partial<EventDescription> = {}): EventDescription =>
  note("info", title, { minor: true, ...more });
const suffix = (text: string | undefined, before = ": ") => (text ? `${before}${text}` : "");
const joined = (...parts: (string | undefined)[]) => parts.filter(Boolean).join("\n") || undefined;
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A model call's or a step's tokens and cost: `1.2k in · 310 out · $0.01`. */
export function usageWords(usage: { inputTokens: number; outputTokens: number }, costUsd?: number): string {
  return `${formatTokens(usage.inputTokens)} in · ${formatTokens(usage.outputTokens)} out · ${formatCost(costUsd ?? 0, costUsd !== undefined)}`;
}

/**
 * The one word a finished run's outcome reads as: its status, except that a run that failed because its
 * agent reported `blocked` or `partial` (no error, not a failed test) says so, the word the agent's own
 * line used — never `blocked` on one line and `failed` on the next.
 */
export function outcomeWord(
  data: { status: "succeeded" | "failed" | "cancelled"; error?: unknown },
  context: Pick<DescribeContext, "lastReport">,
): "succeeded" | "failed" | "cancelled" | "blocked" | "partial" {
  const report = context.lastReport;
  if (data.status === "failed" && !data.error && (report === "blocked" || report === "partial"))
    return report;
  return data.status;
}

/** How the run's model reads: the scripted demo model always says it is not an LLM. */
export function modelLabel(model: { provider: string; model: string; scripted?: boolean }): string {
  const name = `${model.provider}/${model.model}`;
  return model.scripted ? `${name} (scripted demo model, not an LLM)` : name;
}

/** How the run's sandbox reads: one that isolates nothing says so. */
export function sandboxLabel(sandbox: { backend: string; isolated: boolean }): string {
  return sandbox.isolated ? sandbox.backend : `${sandbox.backend} (NO ISOLATION)`;
}

/** One-line summary of a tool call's arguments: the argument a person cares about. */
export function describeArgs(name: string, args: unknown, max = 120): string {
  const a = (args ?? {}) as Record<string, unknown>;
  const pick = a.command ?? a.path ?? a.pattern ?? a.url ?? a.agent ?? a.summary;
  let text = typeof pick === "string" ? pick : JSON.stringify(args ?? {});
  if (name === "read_file" && a.offset) text += ` @${a.offset}`;
  text = text.replace(/\s+/g, " ");
  return text.length > max ? `${text.slice(0, max - 3)}…` : text;
}

/** The first non-blank line of a text, cut at `max` characters. */
function firstLine(text: string, max = 80): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const planLines = (plan: EventOf<"plan.proposed">["data"]["plan"]) =>
  plan.steps.map((st, i) => `${i + 1}. [${st.owner}] ${st.description}`);

const VERIFIED = {
  passed: { tone: "ok", mark: "✓", words: "verified" },
  failed: { tone: "error", mark: "✘", words: "verification failed" },
  not_verified: { tone: "warn", mark: "?", words: "not verified" },
} as const;

const REPORT_TONE = { done: "ok", partial: "warn", blocked: "warn", failed: "error" } as const;

const DESCRIBERS: { [T in EventType]: Describer<T> } = {
  // ---- the run ---------------------------------------------------------------------------------------
  "run.created": ({ data: d }) => {
    const facts = [
      `mode ${d.mode}`,
      `approval ${d.approval}`,
      `model ${modelLabel(d.model)}`,
      `sandbox ${sandboxLabel(d.sandbox)}`,
      d.forkedFrom && `forked from ${d.forkedFrom.runId} at event ${d.forkedFrom.seq}`,
      d.eval && `eval ${d.eval.id}, task ${d.eval.instanceId}`,
    ];
    const leftOut = d.leftOut?.length
      ? note("warn", `left out of the workspace: ${d.leftOutCount ?? d.leftOut.length} path(s)`, {
          mark: "!",
          depth: 0,
          list: {
            items: d.leftOut.map((item) => `${printablePath(item.path)}: ${item.reason}`),
            total: d.leftOutCount ?? d.leftOut.length,
          },
        })
      : undefined;
    return note("info", `run created: ${d.task}`, {
      depth: 0,
      detail: facts.filter(Boolean).join(" · "),
      also: leftOut && [leftOut],
    });
  },
  "run.attached": ({ data: d }) => {
    if (!d.resumed) return minor(`started by pid ${d.pid}`, { depth: 0 });
    const from = d.tookOverFrom;
    const took = from ? ` (took over from pid ${from.pid}, ${from.label}, which had stopped)` : "";
    return note("info", `resumed by pid ${d.pid}${took}`, { mark: "↻", depth: 0 });
  },
  "run.status": ({ data: d }) =>
    d.status === "paused"
      ? note("warn", `paused${suffix(d.reason)}`, { mark: "⏸", depth: 0 })
      : minor(`run ${d.status}${suffix(d.reason)}`, { depth: 0 }),
  "run.finished": ({ data: d, time }, context) => {
    const took = context.startedAt ? ` in ${formatDuration(time - context.startedAt)}` : "";
    const ok = d.status === "succeeded";
    const word = outcomeWord(d, context);
    return note(ok ? "ok" : word === "failed" ? "error" : "warn", `${word}${took}`, {
      mark: ok ? "✔" : "✘",
      depth: 0,
      lines: d.summary.trim() ? d.summary.trim().split("\n") : undefined,
      detail: d.error?.message,
    });
  },
  "run.routed": ({ data: d }) =>
    note(
      "info",
      `route: ${d.route === "answer" ? "answer (the Analyzer answers; no plan, no edits)" : "change (Analyzer → plan → Implementer ⇄ Tester → Refactorer)"} — ${d.reason}`,
      { mark: "⇢" },
    ),
  "model.changed": ({ data: d }) =>
    note("info", `model changed (${d.reason})`, {
      mark: "⇄",
      detail: `${modelLabel(d.from)} → ${modelLabel(d.to)}`,
    }),
  "run.paused": ({ data: d }) =>
    note("warn", `paused by ${d.by}${suffix(d.reason)}`, { mark: "⏸", depth: 0 }),
  "run.resumed": ({ data: d }) => note("info", `resumed by ${d.by}`, { mark: "▶", depth: 0 }),
  // The delivery of a person's act to the process driving the run: the act itself is its own event.
  "steer.requested": ({ data: d }) => minor(`${d.act.kind} sent by ${d.by} to the process driving the run`),
  "steer.handled": ({ data: d }) =>
    d.ok
      ? minor(`request ${d.requestId} handled`)
      : note("warn", `request ${d.requestId} refused: ${d.error?.message ?? "unknown reason"}`, {
          mark: "!",
        }),
  "run.reopened": ({ data: d }) =>
    note("info", `reopened by ${d.by} with a follow-up request`, { mark: "↺", lines: [d.request] }),
  "run.forked": ({ data: d }) =>
    note("info", `forked at event ${d.atSeq} into ${d.newRunId}`, {
      mark: "⑂",
      quiet: true,
      detail: d.guidance,
    }),

  // ---- what the run loaded -----------------------------------------------------------------------------
  "extension.loaded": ({ data: d }) => {
    const tools = d.tools?.length ? `: ${d.tools.join(", ")}` : "";
    // Text the repository brings is labelled as the repository's: its author speaks to the agents.
    const from =
      d.kind === "instructions"
        ? " — text from the repository"
        : d.kind === "settings"
          ? " — from the repository"
          : "";
    return note("info", `${d.kind} ${d.name}${tools}${suffix(d.note, " (")}${d.note ? ")" : ""}${from}`, {
      mark: "+",
      depth: 0,
      quiet: true,
      detail: d.source,
    });
  },
  "extension.failed": ({ data: d }) => {
    const [first = "", ...rest] = d.message.split("\n");
    return note("warn", first, {
      mark: "!",
      depth: 0,
      lines: rest.length ? rest : undefined,
      detail: d.source,
    });
  },
  "lesson.used": ({ data: d }) =>
    note(
      "info",
      `${plural(d.lessonIds.length, "lesson")} from the repository's ${d.file} given to every agent`,
      {
        quiet: true,
      },
    ),

  // ---- plan and progress --------------------------------------------------------------------------------
  "plan.proposed": ({ data: d }) => note("info", "plan proposed", { lines: planLines(d.plan) }),
  "plan.revised": ({ data: d }) =>
    note("warn", `plan revised by ${d.by}${suffix(d.reason)}`, { mark: "✎", lines: planLines(d.plan) }),
  "plan.approved": ({ data: d }) => note("ok", `plan approved by ${d.by}`, { mark: "✓", quiet: true }),
  "ledger.updated": ({ data: d }) => {
    const state = d.done ? "done" : d.stuck ? "stuck" : d.progressing ? "progressing" : "not progressing";
    return note(d.stuck ? "warn" : "info", `ledger: ${state}${suffix(d.next, ", next: ")} — ${d.note}`, {
      quiet: !d.stuck,
    });
  },

  // ---- agents -------------------------------------------------------------------------------------------
  "agent.started": ({ data: d }) =>
    note("info", d.role, { mark: "●", subject: d.name, depth: 0, detail: d.phase && `phase ${d.phase}` }),
  "agent.handoff": ({ data: d }) =>
    note("info", `${d.from ? `${d.from} → ` : ""}${d.to} (${d.phase}): ${d.reason}`, {
      mark: "⇢",
      quiet: true,
    }),
  "agent.step.started": ({ data: d }) => note("info", `step ${d.step}`, { quiet: true }),
  "agent.text.delta": ({ data: d }) => minor(`text (step ${d.step})`, { detail: d.text }),
  "agent.reasoning.delta": ({ data: d }) => minor(`thinking (step ${d.step})`, { detail: d.text }),
  "agent.step.ended": ({ data: d }) =>
    minor(`step ${d.step} ended (${d.finishReason}): ${usageWords(d.usage, d.costUsd)}`),
  "agent.finished": ({ data: d }) =>
    note(REPORT_TONE[d.report.status], `finished: ${d.report.status} (${d.reason})`, {
      mark: "●",
      subject: d.name,
      depth: 0,
      detail: d.report.summary,
    }),

  // ---- the model ----------------------------------------------------------------------------------------
  "llm.request": ({ data: d }) =>
    minor(
      `model call ${d.provider}/${d.model} (step ${d.step}, attempt ${d.attempt}): ~${formatTokens(d.estimatedInputTokens)} tokens in`,
    ),
  "llm.response": ({ data: d }) =>
    minor(`model answered in ${formatDuration(d.latencyMs)}: ${usageWords(d.usage, d.costUsd)}`),
  "llm.retry": ({ data: d }) =>
    note(
      "warn",
      `model call failed (${d.reason}); retry in ${formatDuration(d.delayMs)} (attempt ${d.attempt + 1})`,
      { mark: "⟳" },
    ),

  // ---- tool calls ---------------------------------------------------------------------------------------
  "tool.call.requested": ({ data: d }) =>
    note("info", describeArgs(d.name, d.args), { mark: "→", subject: d.name, detail: `risk ${d.risk}` }),
  "tool.call.started": ({ data: d }) => minor(`${d.name} started`, { depth: 2 }),
  "tool.output.delta": ({ data: d }) => minor(`output (${d.stream})`, { depth: 2, detail: d.text }),
  "tool.call.ended": ({ data: d }) => {
    const lines = d.output.split("\n").length;
    const what =
      d.exitCode !== undefined
        ? `exit ${d.exitCode}`
        : (d.skipped ?? (d.isError ? "error" : lines > 1 ? `${lines} lines` : firstLine(d.output)));
    // A denied call's output only repeats the denial, said just above.
    const why = d.isError && d.exitCode === undefined && d.skipped !== "denied";
    return note(d.isError ? "error" : "ok", `${what} · ${formatDuration(d.durationMs)}`, {
      mark: d.isError ? "✗" : "✓",
      depth: 2,
      lines: why ? [firstLine(d.output, 160)] : undefined,
    });
  },
  "approval.requested": ({ data: d }) =>
    note("warn", `approval needed: ${d.reason}`, {
      mark: "?",
      depth: 2,
      detail: describeArgs(d.tool, d.args),
    }),
  "approval.resolved": ({ data: d }) => {
    const [tone, mark, verb] =
      d.decision === "deny"
        ? (["error", "✗", "denied"] as const)
        : d.decision === "edit"
          ? (["warn", "✎", "edited"] as const)
          : (["ok", "✓", "approved"] as const);
    return note(tone, `${verb} by ${d.by}${suffix(d.reason)}${suffix(d.ruleLearned, " · rule saved: ")}`, {
      mark,
      depth: 2,
      quiet: d.decision !== "deny",
    });
  },
  "quota.exceeded": ({ data: d }) =>
    note(
      "error",
      `disk quota: the workspace reached ${mb(d.limitBytes)} (${mb(d.usedBytes)} in use)${d.stopped ? "; the command was stopped" : ""} — workspaceQuotaMb`,
      { mark: "!", depth: 2, detail: d.command && `$ ${d.command}` },
    ),

  // ---- the person in the loop ---------------------------------------------------------------------------
  "intervention.received": ({ data: d }) => {
    const how = d.redirect
      ? ` (redirect${d.redirect.to ? ` to ${d.redirect.to}` : ": restart the phase"})`
      : d.interrupt
        ? " (interrupt)"
        : "";
    return note("info", `message from ${d.by}${how}: ${d.message}`, { mark: "✉" });
  },
  "intervention.delivered": ({ data: d }, context) =>
    note("info", `delivered to ${context.agentName(d.agentId) ?? d.agentId} (step ${d.step})`, {
      mark: "✉",
      quiet: true,
    }),
  "loop.detected": ({ data: d }) =>
    note(
      d.action === "stopped" ? "error" : "warn",
      `${d.kind === "repeated_call" ? "loop" : "stall"} detected (${d.action}): ${d.detail}`,
      { mark: "↻", detail: d.message },
    ),
  "protocol.fallback": ({ data: d }) =>
    note("warn", `${FALLBACK_LABEL[d.kind]}: ${d.detail}`, { mark: "↪", detail: d.message }),

  // ---- setup and verification ---------------------------------------------------------------------------
  "setup.started": ({ data: d }) =>
    note("info", `setup: ${d.command}${d.network === "on" ? " (network on for setup)" : ""}`, { mark: "$" }),
  "setup.ended": ({ data: d }) => {
    const ok = d.exitCode === 0 && !d.timedOut;
    return note(
      ok ? "ok" : "error",
      `setup ${d.timedOut ? "timed out" : `exited ${d.exitCode}`} · ${formatDuration(d.durationMs)}`,
      { mark: ok ? "✓" : "✘", quiet: ok, detail: d.output || undefined },
    );
  },
  "verification.started": ({ data: d }) =>
    note("info", `verifying: ${d.command} (run by Entourage, ${d.source})`, { mark: "$" }),
  "verification.ended": ({ data: d }) => {
    const v = VERIFIED[d.status];
    const reused = d.reusedSeq !== undefined ? " — the agent's run of it, reused" : "";
    return note(v.tone, `${v.words}: ${d.reason}${reused}`, { mark: v.mark, detail: d.output || undefined });
  },

  // ---- the workspace ------------------------------------------------------------------------------------
  "checkpoint.created": ({ data: d }) =>
    note("info", `checkpoint ${d.ref.slice(0, 8)} ${d.filesChanged.map(printablePath).join(", ")}`, {
      mark: "◆",
      quiet: true,
      detail: d.label,
    }),
  "workspace.restored": ({ data: d }) =>
    note(
      "warn",
      `workspace restored to ${d.toSeq !== undefined ? `event ${d.toSeq} (${d.ref.slice(0, 8)})` : d.ref.slice(0, 8)}: ${d.reason}`,
      { mark: "⟲" },
    ),
  "workspace.merged": ({ data: d }, context) => {
    const who = context.agentName(d.fromAgentId) ?? "agent";
    const conflicts = d.conflicts.length
      ? `, ${d.conflicts.length} CONFLICT(S): ${d.conflicts.map((c) => printablePath(c.path)).join(", ")} (kept ours, reported both)`
      : ", clean";
    return note(
      d.conflicts.length ? "warn" : "info",
      `merged ${who}'s copy: ${d.merged.length} file(s)${conflicts}`,
      {
        mark: "⇄",
        quiet: d.conflicts.length === 0,
        detail: joined(
          ...d.merged.map(printablePath),
          ...d.conflicts.map((c) => `conflict: ${printablePath(c.path)} (${c.reason})`),
        ),
      },
    );
  },
  "diff.ready": ({ data: d }) =>
    d.files.length === 0
      ? note("info", "no changes", { quiet: true })
      : note(
          "ok",
          `${plural(d.files.length, "file")} changed +${d.insertions} −${d.deletions}: ${d.files.map((f) => printablePath(f.path)).join(", ")}`,
          { detail: d.files.map((f) => `${f.status} ${printablePath(f.path)}`).join("\n") },
        ),
  "diff.applied": ({ data: d }) =>
    note("ok", `applied to ${d.target}: ${plural(d.files.length, "file")}`, {
      mark: "✓",
      detail: d.files.map(printablePath).join("\n"),
    }),

  // ---- lessons from corrections -------------------------------------------------------------------------
  "lesson.proposed": ({ data: d }) => {
    const how = d.drafted === "quoted" ? "quoted from the correction" : "drafted by the model";
    return note("info", `lesson proposed ${d.lessonId} (${how}, from #${d.sourceSeq}): ${d.text}`, {
      detail: d.note,
    });
  },
  "lesson.skipped": ({ data: d }) =>
    note("info", `no lesson from #${d.sourceSeq}: ${d.reason}`, { quiet: true }),
  "lesson.decided": ({ data: d }) =>
    note("info", `lesson ${d.lessonId} ${d.decision} by ${d.by}${suffix(d.reason)}`, {
      quiet: true,
      detail: d.text,
    }),
  "lesson.saved": ({ data: d }) =>
    note("ok", `lesson ${d.savedAs ?? d.lessonId} saved to ${d.file}`, { detail: d.text }),
};
