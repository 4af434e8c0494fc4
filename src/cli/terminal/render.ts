import {
  FALLBACK_LABEL,
  formatCost,
  formatDuration,
  formatTokens,
  printablePath,
} from "../../core/format.ts";
import type { EntourageEvent } from "../../core/index.ts";
import type { Style } from "./style.ts";

/** Lines of a command's output shown live per call; the rest is counted, and kept in the log. */
const OUTPUT_LINES_SHOWN = 12;

/** One-line summary of a tool call's arguments: the argument a person cares about. */
export function describeArgs(name: string, args: unknown): string {
  const a = (args ?? {}) as Record<string, unknown>;
  const pick = a.command ?? a.path ?? a.pattern ?? a.summary;
  let text = typeof pick === "string" ? pick : JSON.stringify(args);
  if (name === "read_file" && a.offset) text += ` @${a.offset}`;
  text = text.replace(/\s+/g, " ");
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/**
 * Turns events into terminal lines, for the live view of `run`/`resume` and for `show`. It keeps only
 * what it needs to lay out text (which stream is open); everything it prints comes from the events.
 */
export class TerminalRenderer {
  private readonly out: (s: string) => void;
  private readonly s: Style;
  private atLineStart = true;
  private openText: string | undefined;
  private outputLines = new Map<string, { shown: number; hidden: number; partial: string }>();
  private tokens = { input: 0, output: 0, cost: 0, costKnown: true };
  private startedAt = 0;
  private agentNames = new Map<string, string>();

  private readonly maxOutputLines: number;

  constructor(out: (s: string) => void, style: Style, options: { outputLines?: number } = {}) {
    this.out = out;
    this.s = style;
    this.maxOutputLines = options.outputLines ?? OUTPUT_LINES_SHOWN;
  }

  private prefix = "";
  private readonly parents = new Map<string, string | undefined>();
  private readonly running = new Map<string | undefined, string[]>();
  private readonly finished = new Set<string>();
  private readonly perAgent = new Map<string, { tokens: number; cost: number; costKnown: boolean }>();

  private line(text: string): void {
    if (!this.atLineStart) this.out("\n");
    this.out(`${this.prefix}${text}\n`);
    this.atLineStart = true;
    this.openText = undefined;
  }

  /** Parallel agents' lines interleave: label them with the agent's name and start order. */
  private labelFor(agentId: string | undefined): string {
    if (!agentId) return "";
    const siblings = this.running.get(this.parents.get(agentId)) ?? [];
    if (siblings.length < 2 || !siblings.includes(agentId)) return "";
    return this.s.cyan(`[${this.agentNames.get(agentId) ?? "agent"} ${siblings.indexOf(agentId) + 1}] `);
  }

  render(event: EntourageEvent): void {
    const s = this.s;
    if (event.type === "agent.started" && event.agentId) {
      this.agentNames.set(event.agentId, event.data.name);
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
    switch (event.type) {
      case "run.created": {
        const d = event.data;
        this.startedAt = event.time;
        const model = d.model.scripted
          ? s.yellow(`${d.model.provider}/${d.model.model} (scripted demo model, not an LLM)`)
          : `${d.model.provider}/${d.model.model}`;
        const sandbox = d.sandbox.isolated
          ? d.sandbox.backend
          : s.yellow(`${d.sandbox.backend} (NO ISOLATION)`);
        this.line(
          `${s.bold("entourage")} ${s.dim("·")} run ${s.cyan(event.runId)} ${s.dim("·")} ${model} ${s.dim("·")} sandbox ${sandbox}`,
        );
        if (d.sandbox.warning) this.line(s.yellow(`! ${d.sandbox.warning}`));
        const mounts = mountsLine(d.sandbox);
        if (mounts) this.line(s.dim(mounts));
        if (d.sandbox.image)
          this.line(
            `${s.dim("image")} ${d.sandbox.image}${d.sandbox.imageReason ? s.dim(` (${d.sandbox.imageReason})`) : ""}`,
          );
        this.line(`${s.dim("task")} ${d.task}`);
        this.line(
          `${s.dim("repo")} ${d.repo} ${s.dim(`(untouched until you apply; work happens in ${d.workspace})`)}`,
        );
        if (d.leftOut?.length) {
          const more = (d.leftOutCount ?? d.leftOut.length) - d.leftOut.length;
          this.line(s.yellow(`! left out of the workspace: ${d.leftOutCount ?? d.leftOut.length} path(s)`));
          for (const item of d.leftOut.slice(0, 10)) this.line(s.dim(`    ${item.path}: ${item.reason}`));
          const hidden = d.leftOut.length - Math.min(10, d.leftOut.length) + more;
          if (hidden > 0)
            this.line(s.dim(`    … and ${hidden} more (entourage show --json lists the first 100)`));
        }
        break;
      }
      case "run.attached":
        if (event.data.resumed) {
          const from = event.data.tookOverFrom;
          const took = from ? ` (took over from pid ${from.pid}, ${from.label}, which had stopped)` : "";
          this.line(s.cyan(`↻ resumed by pid ${event.data.pid}${took}`));
        }
        break;
      case "agent.started":
        if (event.agentId) this.agentNames.set(event.agentId, event.data.name);
        this.line(`${s.magenta("●")} ${s.bold(event.data.name)} ${s.dim(event.data.role)}`);
        break;
      case "agent.handoff":
        this.line(
          s.dim(
            `  ⇢ ${event.data.from ? `${event.data.from} → ` : ""}${event.data.to} (${event.data.phase}): ${event.data.reason}`,
          ),
        );
        break;
      case "plan.proposed": {
        const steps = event.data.plan.steps
          .map((st, i) => `    ${i + 1}. [${st.owner}] ${st.description}`)
          .join("\n");
        this.line(`  ${s.cyan("plan")} proposed:\n${steps}`);
        break;
      }
      case "plan.approved":
        this.line(s.dim(`  ✓ plan approved by ${event.data.by}`));
        break;
      case "plan.revised":
        this.line(
          s.yellow(
            `  ✎ plan revised by ${event.data.by}${event.data.reason ? `: ${event.data.reason}` : ""}`,
          ),
        );
        break;
      case "intervention.received":
        this.line(
          s.cyan(
            `  ✉ message from ${event.data.by}${event.data.redirect ? ` (redirect${event.data.redirect.to ? ` to ${event.data.redirect.to}` : ": restart the phase"})` : event.data.interrupt ? " (interrupt)" : ""}: ${event.data.message}`,
          ),
        );
        break;
      case "intervention.delivered":
        this.line(s.dim(`  ✉ delivered to ${this.agentNames.get(event.data.agentId) ?? event.data.agentId}`));
        break;
      case "loop.detected":
        this.line(
          s.yellow(
            `  ↻ ${event.data.kind === "repeated_call" ? "loop" : "stall"} detected (${event.data.action}): ${event.data.detail}`,
          ),
        );
        break;
      case "protocol.fallback":
        this.line(s.yellow(`  ↪ ${FALLBACK_LABEL[event.data.kind]}: ${event.data.detail}`));
        break;
      case "run.routed":
        this.line(
          s.cyan(
            `  ⇢ route: ${event.data.route === "answer" ? "answer (the Analyzer answers; no plan, no edits)" : "change (Analyzer → plan → Implementer ⇄ Tester → Refactorer)"} — ${event.data.reason}`,
          ),
        );
        break;
      case "model.changed":
        this.line(s.cyan(`  ⇄ model changed (${event.data.reason})`));
        break;
      case "setup.started":
        this.line(
          `  ${s.cyan("$")} setup: ${event.data.command}${event.data.network === "on" ? s.yellow(" (network on for setup)") : ""}`,
        );
        break;
      case "setup.ended":
        this.line(
          event.data.exitCode === 0 && !event.data.timedOut
            ? s.dim(`  ✓ setup exited 0 · ${formatDuration(event.data.durationMs)}`)
            : s.red(`  ✘ setup ${event.data.timedOut ? "timed out" : `exited ${event.data.exitCode}`}`),
        );
        break;
      case "verification.started":
        this.line(
          `  ${s.cyan("$")} verifying: ${event.data.command} ${s.dim(`(run by Entourage, ${event.data.source})`)}`,
        );
        break;
      case "verification.ended": {
        const v = event.data;
        const text = `${v.reason}${v.reusedSeq !== undefined ? " — the agent's run of it, reused" : ""}`;
        this.line(
          v.status === "passed"
            ? s.green(`  ✓ verified: ${text}`)
            : v.status === "failed"
              ? s.red(`  ✘ verification failed: ${text}`)
              : s.yellow(`  ? not verified: ${text}`),
        );
        break;
      }
      case "workspace.restored":
        this.line(s.yellow(`  ⟲ workspace restored to ${event.data.ref.slice(0, 8)}: ${event.data.reason}`));
        break;
      case "workspace.merged": {
        const d = event.data;
        const who = this.agentNames.get(d.fromAgentId) ?? "agent";
        const text = `  ⇄ merged ${who}'s copy: ${d.merged.length} file(s)${d.conflicts.length ? `, ${d.conflicts.length} CONFLICT(S): ${d.conflicts.map((c) => c.path).join(", ")} (kept ours, reported both)` : ", clean"}`;
        this.line(d.conflicts.length ? s.yellow(text) : s.dim(text));
        break;
      }
      case "ledger.updated": {
        const d = event.data;
        const state = d.done ? "done" : d.stuck ? "stuck" : d.progressing ? "progressing" : "not progressing";
        this.line(s.dim(`  ledger: ${state}${d.next ? `, next: ${d.next}` : ""} — ${d.note}`));
        break;
      }
      case "run.forked":
        this.line(s.dim(`  ⑂ forked at event ${event.data.atSeq} into ${event.data.newRunId}`));
        break;
      // What the run loaded besides the built-ins (src/cli/project.ts), and what it could not load.
      case "extension.loaded": {
        const d = event.data;
        const tools = d.tools?.length ? `: ${d.tools.join(", ")}` : "";
        const note = d.note ? ` (${d.note})` : "";
        // Text the repository brings is labelled as the repository's: its author speaks to the agents.
        const from = d.kind === "instructions" ? " — text from the repository" : "";
        this.line(s.dim(`+ ${d.kind} ${d.name}${tools}${note}${from}`));
        break;
      }
      case "extension.failed":
        this.line(s.yellow(`! ${event.data.message.replace(/\n/g, "\n  ")}`));
        break;
      // Lessons from corrections (src/memory).
      case "lesson.used": {
        const n = event.data.lessonIds.length;
        this.line(
          s.dim(
            `  ${n} lesson${n === 1 ? "" : "s"} from the repository's ${event.data.file} given to every agent`,
          ),
        );
        break;
      }
      case "lesson.proposed": {
        const how = event.data.drafted === "quoted" ? "quoted from the correction" : "drafted by the model";
        this.line(
          s.cyan(
            `  lesson proposed ${event.data.lessonId} (${how}, from #${event.data.sourceSeq}): ${event.data.text}`,
          ),
        );
        break;
      }
      case "lesson.skipped":
        this.line(s.dim(`  no lesson from #${event.data.sourceSeq}: ${event.data.reason}`));
        break;
      case "lesson.decided":
        this.line(s.dim(`  lesson ${event.data.lessonId} ${event.data.decision} by ${event.data.by}`));
        break;
      case "lesson.saved":
        this.line(
          s.green(`  lesson ${event.data.savedAs ?? event.data.lessonId} saved to ${event.data.file}`),
        );
        break;
      case "agent.step.started":
        this.line(s.dim(`  step ${event.data.step}`));
        break;
      case "agent.text.delta":
      case "agent.reasoning.delta": {
        const kind = event.type;
        if (this.openText !== kind) {
          if (!this.atLineStart) this.out("\n");
          this.out(`${this.prefix}  `);
          this.openText = kind;
        }
        const text = event.data.text.replace(/\n/g, `\n${this.prefix}  `);
        this.out(kind === "agent.reasoning.delta" ? s.dim(text) : text);
        this.atLineStart = false;
        break;
      }
      case "llm.retry":
        this.line(
          s.yellow(
            `  ⟳ model call failed (${event.data.reason}); retry in ${formatDuration(event.data.delayMs)} (attempt ${event.data.attempt + 1})`,
          ),
        );
        break;
      case "llm.response":
        if (event.agentId) {
          const a = this.perAgent.get(event.agentId) ?? { tokens: 0, cost: 0, costKnown: true };
          a.tokens += event.data.usage.inputTokens + event.data.usage.outputTokens;
          if (event.data.costUsd === undefined) a.costKnown = false;
          else a.cost += event.data.costUsd;
          this.perAgent.set(event.agentId, a);
        }
        this.tokens.input += event.data.usage.inputTokens;
        this.tokens.output += event.data.usage.outputTokens;
        if (event.data.costUsd === undefined) this.tokens.costKnown = false;
        else this.tokens.cost += event.data.costUsd;
        break;
      case "agent.step.ended":
        this.line(
          s.dim(
            `  ${formatTokens(this.tokens.input)} in · ${formatTokens(this.tokens.output)} out · ${formatCost(this.tokens.cost, this.tokens.costKnown)}`,
          ),
        );
        break;
      case "tool.call.requested":
        this.line(
          `  ${s.cyan("→")} ${s.bold(event.data.name)} ${describeArgs(event.data.name, event.data.args)}`,
        );
        break;
      case "approval.requested":
        this.line(s.yellow(`    ? approval needed: ${event.data.reason}`));
        break;
      case "approval.resolved": {
        const d = event.data;
        const text = `    ${d.decision === "deny" ? "✗ denied" : d.decision === "edit" ? "✎ edited" : "✓ approved"} by ${d.by}${d.reason ? `: ${d.reason}` : ""}`;
        this.line(d.decision === "deny" ? s.red(text) : s.dim(text));
        break;
      }
      case "tool.output.delta": {
        const o = this.outputLines.get(event.data.callId) ?? { shown: 0, hidden: 0, partial: "" };
        this.outputLines.set(event.data.callId, o);
        const lines = (o.partial + event.data.text).split("\n");
        o.partial = lines.pop() ?? "";
        for (const l of lines) {
          if (o.shown < this.maxOutputLines) {
            o.shown += 1;
            this.line(s.dim(`    │ ${l.slice(0, 200)}`));
          } else o.hidden += 1;
        }
        break;
      }
      case "tool.call.ended": {
        const d = event.data;
        const o = this.outputLines.get(d.callId);
        if (o?.partial && o.shown < this.maxOutputLines) this.line(s.dim(`    │ ${o.partial.slice(0, 200)}`));
        else if (o?.partial) o.hidden += 1;
        if (o?.hidden)
          this.line(s.dim(`    │ … ${o.hidden} more lines (entourage show ${event.runId} --full)`));
        this.outputLines.delete(d.callId);
        const lines = d.output.split("\n").length;
        const what =
          d.exitCode !== undefined
            ? `exit ${d.exitCode}`
            : d.skipped
              ? d.skipped
              : d.isError
                ? "error"
                : lines > 1
                  ? `${lines} lines`
                  : firstLine(d.output);
        const text = `    ${d.isError ? "✗" : "✓"} ${what} ${s.dim(`· ${formatDuration(d.durationMs)}`)}`;
        this.line(d.isError ? s.red(text) : s.green(text));
        if (d.isError && d.exitCode === undefined && d.skipped !== "denied")
          this.line(s.dim(`      ${firstLine(d.output, 160)}`));
        break;
      }
      case "quota.exceeded": {
        const d = event.data;
        const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
        this.line(
          s.red(
            `    ! disk quota: the workspace reached ${mb(d.limitBytes)} (${mb(d.usedBytes)} in use)${d.stopped ? "; the command was stopped" : ""} — workspaceQuotaMb`,
          ),
        );
        break;
      }
      case "checkpoint.created":
        this.line(
          s.dim(
            `  ◆ checkpoint ${event.data.ref.slice(0, 8)} ${event.data.filesChanged.map(printablePath).join(", ")}`,
          ),
        );
        break;
      case "agent.finished": {
        const r = event.data.report;
        this.line(
          `${s.magenta("●")} ${s.bold(event.data.name)} finished: ${r.status} ${s.dim(`(${event.data.reason})`)}`,
        );
        break;
      }
      case "diff.ready": {
        const d = event.data;
        this.line(
          d.files.length === 0
            ? s.dim("  no changes")
            : `  ${d.files.length} file${d.files.length === 1 ? "" : "s"} changed ${s.green(`+${d.insertions}`)} ${s.red(`−${d.deletions}`)}: ${d.files.map((f) => printablePath(f.path)).join(", ")}`,
        );
        break;
      }
      case "run.status":
        if (event.data.status === "paused") this.line(s.yellow(`⏸ paused: ${event.data.reason ?? ""}`));
        break;
      case "run.finished": {
        const d = event.data;
        const took = this.startedAt ? ` in ${formatDuration(event.time - this.startedAt)}` : "";
        const mark = d.status === "succeeded" ? s.green("✔ succeeded") : s.red(`✘ ${d.status}`);
        this.line(`${mark}${took}`);
        if (d.summary) this.line(`  ${d.summary.trim().replace(/\n/g, "\n  ")}`);
        this.line(
          s.dim(
            `  tokens ${formatTokens(this.tokens.input)} in · ${formatTokens(this.tokens.output)} out · ${formatCost(this.tokens.cost, this.tokens.costKnown)}`,
          ),
        );
        if (this.perAgent.size > 1) {
          // Per role: the same agent may have run several times (fix rounds, delegations).
          const byName = new Map<string, { tokens: number; cost: number; costKnown: boolean }>();
          for (const [id, a] of this.perAgent) {
            const name = this.agentNames.get(id) ?? id;
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
        this.line(s.dim(`  next: entourage diff ${event.runId}  ·  entourage apply ${event.runId}`));
        break;
      }
      default:
        break;
    }
  }

  /** Ends a half-written line (before the process prints anything else). */
  end(): void {
    if (!this.atLineStart) this.out("\n");
    this.atLineStart = true;
  }
}

function firstLine(text: string, max = 80): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
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
