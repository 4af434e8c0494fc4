import {
  describeEvent,
  type EntourageEvent,
  EventContext,
  type EventDescription,
  type EventOf,
  formatCost,
  formatTokens,
  modelLabel,
  outcomeWord,
  sandboxLabel,
  usageWords,
} from "../../core/index.ts";
import type { Style } from "./style.ts";

export { describeArgs } from "../../core/index.ts";

/** Lines of a command's output shown live per call; the rest is counted, and kept in the log. */
const OUTPUT_LINES_SHOWN = 12;
/** Items of a long list (the paths a workspace left out) shown before "… and N more". */
const LIST_ITEMS_SHOWN = 10;

type Totals = { tokens: number; cost: number; costKnown: boolean };

/**
 * Turns events into terminal lines, for the live view of `run`/`resume`/`attach` and for `show`. The words
 * come from `describeEvent` (src/core/describe-event.ts), shared with the dashboard; this class lays them
 * out: colour by tone, indentation by depth, labels for parallel agents, streamed text and command output
 * as it arrives, and the run's running token totals.
 */
export class TerminalRenderer {
  private readonly out: (s: string) => void;
  private readonly s: Style;
  private readonly maxOutputLines: number;
  private readonly context = new EventContext();
  private atLineStart = true;
  private openText: string | undefined;
  private prefix = "";
  private readonly outputLines = new Map<string, { shown: number; hidden: number; partial: string }>();
  private readonly tokens = { input: 0, output: 0, cost: 0, costKnown: true };
  private readonly perAgent = new Map<string, Totals>();
  private readonly parents = new Map<string, string | undefined>();
  private readonly running = new Map<string | undefined, string[]>();
  private readonly finished = new Set<string>();
  /**
   * A step's `step N` line waits for the step's first printed line: a step that prints nothing until it
   * ends shows only its end line (`step N · tokens …`), not `step N` twice.
   */
  private pendingStep: { agentId?: string; description: EventDescription; prefix: string } | undefined;
  /** Files the run's final diff changes (`diff.ready`); undefined until it is ready. */
  private changedFiles: number | undefined;

  constructor(out: (s: string) => void, style: Style, options: { outputLines?: number } = {}) {
    this.out = out;
    this.s = style;
    this.maxOutputLines = options.outputLines ?? OUTPUT_LINES_SHOWN;
  }

  render(event: EntourageEvent): void {
    this.context.observe(event);
    this.trackParallel(event);
    switch (event.type) {
      case "run.created":
        this.header(event);
        return;
      case "agent.text.delta":
      case "agent.reasoning.delta":
        this.stream(event);
        return;
      case "tool.output.delta":
        this.output(event);
        return;
      case "llm.response":
        this.count(event);
        return;
      case "agent.step.started":
        this.flushStep();
        this.pendingStep = {
          agentId: event.agentId,
          description: describeEvent(event, this.context),
          prefix: this.prefix,
        };
        return;
      case "agent.step.ended":
        if (this.pendingStep?.agentId === event.agentId) this.pendingStep = undefined;
        // The step's own tokens first; the run's running total after, labelled so the two are not confused.
        this.line(
          this.s.dim(
            `  step ${event.data.step} · ${usageWords(event.data.usage, event.data.costUsd)}  (run so far: ${this.totals()})`,
          ),
        );
        return;
      case "diff.ready":
        this.changedFiles = event.data.files.length;
        break;
      case "tool.call.ended":
        this.endOutput(event);
        break;
    }
    const description = describeEvent(event, this.context);
    if (!description.minor) this.print(description);
    if (event.type === "run.finished") this.footer(event);
  }

  /** Ends a half-written line (before the process prints anything else). */
  end(): void {
    this.flushStep();
    if (!this.atLineStart) this.out("\n");
    this.atLineStart = true;
  }

  /** Prints the waiting `step N` line, with the label of the agent whose step it is. */
  private flushStep(): void {
    const pending = this.pendingStep;
    if (!pending) return;
    this.pendingStep = undefined;
    const prefix = this.prefix;
    this.prefix = pending.prefix;
    this.print(pending.description);
    this.prefix = prefix;
  }

  private line(text: string): void {
    this.flushStep();
    if (!this.atLineStart) this.out("\n");
    this.out(`${this.prefix}${text}\n`);
    this.atLineStart = true;
    this.openText = undefined;
  }

  /** A description as lines: the mark coloured by tone, the subject bold, lines and lists indented below. */
  private print(d: EventDescription): void {
    const s = this.s;
    const indent = "  ".repeat(d.depth);
    const paint = d.quiet
      ? s.dim
      : { info: (t: string) => t, ok: s.green, warn: s.yellow, error: s.red }[d.tone];
    const mark = d.mark ? `${d.tone === "info" && !d.quiet ? s.cyan(d.mark) : paint(d.mark)} ` : "";
    const subject = d.subject ? `${s.bold(d.subject)} ` : "";
    this.line(`${indent}${mark}${subject}${paint(d.title)}`);
    for (const l of d.lines ?? []) this.line(`${indent}  ${l}`);
    if (d.list) {
      const { items, total } = d.list;
      for (const item of items.slice(0, LIST_ITEMS_SHOWN)) this.line(s.dim(`${indent}  ${item}`));
      const hidden = total - Math.min(items.length, LIST_ITEMS_SHOWN);
      const lists = items.length === total ? "lists them all" : `lists the first ${items.length}`;
      if (hidden > 0) this.line(s.dim(`${indent}  … and ${hidden} more (entourage show --json ${lists})`));
    }
    for (const more of d.also ?? []) this.print(more);
  }

  /** The run's header: what runs where, on which model, and what was left out. */
  private header(event: EventOf<"run.created">): void {
    const { s } = this;
    const d = event.data;
    const model = d.model.scripted ? s.yellow(modelLabel(d.model)) : modelLabel(d.model);
    const sandbox = d.sandbox.isolated ? sandboxLabel(d.sandbox) : s.yellow(sandboxLabel(d.sandbox));
    const dot = s.dim("·");
    this.line(
      `${s.bold("entourage")} ${dot} run ${s.cyan(event.runId)} ${dot} ${model} ${dot} sandbox ${sandbox}`,
    );
    if (d.sandbox.warning) this.line(s.yellow(`! ${d.sandbox.warning}`));
    const mounts = mountsLine(d.sandbox);
    if (mounts) this.line(s.dim(mounts));
    if (d.sandbox.image)
      this.line(
        `${s.dim("image")} ${d.sandbox.image}${d.sandbox.imageReason ? s.dim(` (${d.sandbox.imageReason})`) : ""}`,
      );
    if (d.eval) this.line(`${s.dim("eval")} ${d.eval.id} ${s.dim("· task")} ${d.eval.instanceId}`);
    this.line(`${s.dim("task")} ${d.task}`);
    this.line(
      `${s.dim("repo")} ${d.repo} ${s.dim(`(untouched until you apply; work happens in ${d.workspace})`)}`,
    );
    for (const more of describeEvent(event, this.context).also ?? []) this.print(more);
  }

  /** Streamed text joins on one indented line until something else is printed. */
  private stream(event: EventOf<"agent.text.delta" | "agent.reasoning.delta">): void {
    this.flushStep();
    const kind = event.type;
    if (this.openText !== kind) {
      if (!this.atLineStart) this.out("\n");
      this.out(`${this.prefix}  `);
      this.openText = kind;
    }
    const text = event.data.text.replace(/\n/g, `\n${this.prefix}  `);
    this.out(kind === "agent.reasoning.delta" ? this.s.dim(text) : text);
    this.atLineStart = false;
  }

  /** A command's output, whole lines only, up to the limit per call. */
  private output(event: EventOf<"tool.output.delta">): void {
    const o = this.outputLines.get(event.data.callId) ?? { shown: 0, hidden: 0, partial: "" };
    this.outputLines.set(event.data.callId, o);
    const lines = (o.partial + event.data.text).split("\n");
    o.partial = lines.pop() ?? "";
    for (const l of lines) {
      if (o.shown < this.maxOutputLines) {
        o.shown += 1;
        this.line(this.s.dim(`    │ ${l.slice(0, 200)}`));
      } else o.hidden += 1;
    }
  }

  /** The last partial line of a call's output, and how many lines were not shown. */
  private endOutput(event: EventOf<"tool.call.ended">): void {
    const o = this.outputLines.get(event.data.callId);
    if (!o) return;
    this.outputLines.delete(event.data.callId);
    if (o.partial && o.shown < this.maxOutputLines) this.line(this.s.dim(`    │ ${o.partial.slice(0, 200)}`));
    else if (o.partial) o.hidden += 1;
    if (o.hidden)
      this.line(this.s.dim(`    │ … ${o.hidden} more lines (entourage show ${event.runId} --full)`));
  }

  private count(event: EventOf<"llm.response">): void {
    const { usage, costUsd } = event.data;
    const add = (t: { cost: number; costKnown: boolean }) => {
      if (costUsd === undefined) t.costKnown = false;
      else t.cost += costUsd;
    };
    if (event.agentId) {
      const a = this.perAgent.get(event.agentId) ?? { tokens: 0, cost: 0, costKnown: true };
      a.tokens += usage.inputTokens + usage.outputTokens;
      add(a);
      this.perAgent.set(event.agentId, a);
    }
    this.tokens.input += usage.inputTokens;
    this.tokens.output += usage.outputTokens;
    add(this.tokens);
  }

  private totals(): string {
    const t = this.tokens;
    return `${formatTokens(t.input)} in · ${formatTokens(t.output)} out · ${formatCost(t.cost, t.costKnown)}`;
  }

  /** After the outcome: the token totals, per agent when several ran, and what to do next. */
  private footer(event: EventOf<"run.finished">): void {
    const s = this.s;
    this.line(s.dim(`  tokens ${this.totals()}`));
    if (this.perAgent.size > 1) {
      // Per role: the same agent may have run several times (fix rounds, delegations).
      const byName = new Map<string, Totals>();
      for (const [id, a] of this.perAgent) {
        const name = this.context.agentName(id) ?? id;
        const sum = byName.get(name) ?? { tokens: 0, cost: 0, costKnown: true };
        sum.tokens += a.tokens;
        sum.cost += a.cost;
        sum.costKnown &&= a.costKnown;
        byName.set(name, sum);
      }
      const parts = [...byName].map(
        ([name, a]) =>
          `${name} ${formatTokens(a.tokens)}${a.costKnown ? ` ${formatCost(a.cost, true)}` : ""}`,
      );
      this.line(s.dim(`  per agent: ${parts.join(" · ")}`));
    }
    this.line(s.dim(`  ${nextSteps(event.runId, outcomeWord(event.data, this.context), this.changedFiles)}`));
  }

  /** Parallel agents' lines interleave: label them with the agent's name and start order. */
  private trackParallel(event: EntourageEvent): void {
    if (event.type === "agent.started" && event.agentId) {
      this.parents.set(event.agentId, event.data.parentAgentId);
      const list = this.running.get(event.data.parentAgentId) ?? [];
      this.running.set(event.data.parentAgentId, [...list, event.agentId]);
    }
    const label = this.labelFor(event.agentId);
    if (label !== this.prefix) {
      if (!this.atLineStart) this.out("\n");
      this.atLineStart = true;
      this.openText = undefined;
      this.prefix = label;
    }
    if (event.type === "agent.finished" && event.agentId) {
      // Keep the numbering while siblings still run; forget the group when the last one ends.
      this.finished.add(event.agentId);
      const parent = this.parents.get(event.agentId);
      if ((this.running.get(parent) ?? []).every((id) => this.finished.has(id))) this.running.delete(parent);
    }
  }

  private labelFor(agentId: string | undefined): string {
    if (!agentId) return "";
    const siblings = this.running.get(this.parents.get(agentId)) ?? [];
    if (siblings.length < 2 || !siblings.includes(agentId)) return "";
    return this.s.cyan(`[${this.context.agentName(agentId) ?? "agent"} ${siblings.indexOf(agentId) + 1}] `);
  }
}

/**
 * How the person typed the command, for the hints that tell them what to type next: `npx entourage` when it runs
 * through npm exec (`npx entourage …` in a checkout or a project that has it as a dependency), else `entourage`
 * (a global install, a link on PATH).
 */
export function selfCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_command === "exec" ? "npx entourage" : "entourage";
}

/**
 * The hint after a run's outcome, fitted to it: review and apply a change that succeeded; nothing to apply
 * when nothing changed; for a run that did not succeed, the log that says why, a fork to try again with
 * guidance (a finished run cannot be resumed), and the change so far if there is one.
 */
export function nextSteps(
  runId: string,
  outcome: string,
  changedFiles: number | undefined,
  self: string = selfCommand(),
): string {
  const changed = changedFiles !== undefined && changedFiles > 0;
  if (outcome === "succeeded")
    return changed
      ? `next: ${self} diff ${runId}  ·  ${self} apply ${runId}`
      : `nothing changed, nothing to apply  ·  the whole log: ${self} show ${runId}`;
  const parts = [`${self} show ${runId} (why)`, `${self} fork ${runId} "<guidance>" (try again)`];
  if (changed) parts.push(`${self} diff ${runId} (the change so far)`);
  return `next: ${parts.join("  ·  ")}`;
}

/**
 * One header line saying what a run's commands see besides the workspace, e.g.
 * `deps: node_modules, packages/a/node_modules (read-only) · PATH: /root/.cargo/bin:/usr/bin:…`.
 */
export function mountsLine(sandbox: {
  isolated: boolean;
  dependencies?: string[];
  path?: string;
}): string | undefined {
  const parts: string[] = [];
  if (sandbox.dependencies !== undefined) {
    const list = sandbox.dependencies;
    const shown =
      list.length > 3 ? `${list.slice(0, 3).join(", ")} +${list.length - 3} more` : list.join(", ");
    parts.push(
      list.length === 0
        ? "deps: none mounted"
        : `deps: ${shown} (${sandbox.isolated ? "read-only" : "linked"})`,
    );
  }
  if (sandbox.path) parts.push(`PATH: ${sandbox.path}`);
  return parts.length > 0 ? parts.join(" · ") : undefined;
}
