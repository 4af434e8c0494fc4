import { relative, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { createdData, UserError } from "../../core/index.ts";
import {
  type Conflicts,
  cleanLessonText,
  conflictsIn,
  decideLesson,
  editLine,
  findConflicts,
  type Lesson,
  lessonsOf,
  newLessonId,
  type Proposal,
  problemsOf,
  proposalsOf,
  proposeLessons,
  putLine,
  readMemory,
  removeLine,
  undraftedCorrections,
  writeMemory,
} from "../../memory/index.ts";
import type { EventStore } from "../../store/index.ts";
import { home, makeModel, openStore } from "../compose.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle, type Style } from "../terminal/style.ts";

/**
 * `entourage memory list|add|rm|edit|review`: the repo's lessons in `.entourage/memory.md`, and the
 * review of the lessons a run proposed from its corrections. Nothing is written to memory.md without a
 * person saying so (accepting a proposal, or running add/rm/edit).
 */

const out = (text = "") => process.stdout.write(`${text}\n`);
const style = (): Style => makeStyle(colorEnabled(process.stdout));

/** Reads answers line by line from a terminal or a pipe (a pipe's lines are buffered, none lost). */
export class LineReader {
  readonly #rl: Interface;
  readonly #lines: AsyncIterator<string>;
  readonly #out: NodeJS.WritableStream;
  readonly #terminal: boolean;
  #closed = false;

  constructor(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout) {
    this.#out = output;
    this.#terminal = (input as { isTTY?: boolean }).isTTY === true;
    this.#rl = createInterface({ input, output, terminal: this.#terminal });
    this.#lines = this.#rl[Symbol.asyncIterator]();
    // Ctrl-C at a question: stop asking; what is not decided stays pending.
    this.#rl.on("SIGINT", () => this.close());
    this.#rl.on("close", () => {
      this.#closed = true;
    });
  }

  /** The next line typed, or undefined once the input ended (EOF, Ctrl-C). */
  async ask(prompt: string): Promise<string | undefined> {
    if (this.#closed) return undefined;
    this.#rl.setPrompt(prompt);
    this.#rl.prompt();
    const next = await this.#lines.next();
    if (next.done) return undefined;
    // A piped answer is not echoed: show it, so the transcript reads like a terminal's.
    if (!this.#terminal) this.#out.write(`${next.value}\n`);
    return next.value.trim();
  }

  close(): void {
    if (!this.#closed) this.#rl.close();
    this.#closed = true;
  }
}

type Ask = (prompt: string) => Promise<string | undefined>;

export interface ConflictFlags {
  /** Save a duplicate anyway. */
  force?: boolean;
  /** Keep a lesson that may contradict saved ones next to them. */
  keepBoth?: boolean;
  /** Replace the saved lessons it may contradict. */
  replace?: boolean;
}

function quote(l: Lesson): string {
  return `${l.id} "${l.text}"`;
}

/** Prints the conflicts of a text with the saved lessons ("this duplicates l_ab12 …"). */
export function showConflicts(conflicts: Conflicts, s: Style, indent = "  "): void {
  for (const l of conflicts.duplicates) out(`${indent}${s.yellow("!")} this duplicates ${quote(l)}`);
  for (const l of conflicts.contradictions) out(`${indent}${s.yellow("!")} this may contradict ${quote(l)}`);
}

/**
 * What to do about shown conflicts: flags decide, else a question when someone can answer, else nothing
 * is saved and the message says which flag would.
 */
async function resolveConflicts(
  conflicts: Conflicts,
  flags: ConflictFlags,
  ask: Ask | undefined,
): Promise<{ save: true; replace: string[] } | { save: false; why: string }> {
  if (conflicts.duplicates.length > 0 && !flags.force) {
    const ids = conflicts.duplicates.map((l) => l.id).join(", ");
    const answer = ask ? await ask(`  save it anyway next to ${ids}? [y/N]: `) : undefined;
    if (answer?.toLowerCase() !== "y" && answer?.toLowerCase() !== "yes")
      return { save: false, why: `it duplicates ${ids}${ask ? "" : " (--force saves it anyway)"}` };
  }
  if (conflicts.contradictions.length === 0) return { save: true, replace: [] };
  const ids = conflicts.contradictions.map((l) => l.id);
  if (flags.replace) return { save: true, replace: ids };
  if (flags.keepBoth) return { save: true, replace: [] };
  if (!ask) {
    return {
      save: false,
      why: `it may contradict ${ids.join(", ")}: keep both with --keep-both, or replace with --replace`,
    };
  }
  for (;;) {
    const answer = (
      await ask(`  keep both? replace ${ids.join(", ")}? [k]eep both / [r]eplace / [c]ancel: `)
    )?.toLowerCase();
    if (answer === undefined || answer === "c" || answer === "cancel")
      return { save: false, why: "cancelled" };
    if (answer === "k" || answer === "keep" || answer === "keep both") return { save: true, replace: [] };
    if (answer === "r" || answer === "replace") return { save: true, replace: ids };
  }
}

function repoOf(flags: { repo?: string }): string {
  return resolve(flags.repo ?? ".");
}

/** A path as the user would type it: relative to where they are when inside it, else absolute. */
function where(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}

// ---- list / add / rm / edit ------------------------------------------------------------------------

export async function memoryListCommand(flags: { repo?: string; json?: boolean }): Promise<number> {
  try {
    const repo = repoOf(flags);
    const memory = readMemory(repo);
    const lessons = lessonsOf(memory);
    const problems = problemsOf(memory);
    if (flags.json) {
      out(JSON.stringify({ file: memory.path, lessons, problems }, null, 2));
      return EXIT.ok;
    }
    const s = style();
    if (!memory.exists) {
      out(`No lessons yet: ${where(memory.path)} does not exist.`);
      out(
        s.dim(
          '  Lessons are proposed after runs in which you corrected an agent, or add one: entourage memory add "…"',
        ),
      );
      return EXIT.ok;
    }
    out(`${where(memory.path)}: ${lessons.length} lesson${lessons.length === 1 ? "" : "s"}`);
    for (const l of lessons) out(`  ${s.bold(l.id)}  ${l.text}  ${s.dim(l.provenance)}`);
    for (const p of problems)
      out(s.yellow(`  line ${p.line} is kept as it is but not used (${p.problem}): ${p.raw.trim()}`));
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

export async function memoryAddCommand(
  text: string,
  flags: { repo?: string } & ConflictFlags,
): Promise<number> {
  try {
    const repo = repoOf(flags);
    const clean = cleanLessonText(text);
    const memory = readMemory(repo);
    const conflicts = findConflicts(clean, lessonsOf(memory));
    const s = style();
    showConflicts(conflicts, s, "");
    const reader = process.stdin.isTTY ? new LineReader() : undefined;
    try {
      const resolution = await resolveConflicts(conflicts, flags, reader && ((p) => reader.ask(p)));
      if (!resolution.save) {
        out(`not added: ${resolution.why}`);
        return EXIT.failed;
      }
      const id = newLessonId(memory);
      const lesson = { id, text: clean, provenance: `added ${new Date().toISOString().slice(0, 10)}` };
      writeMemory(putLine(memory, lesson, resolution.replace));
      out(
        `added ${s.bold(id)} to ${where(memory.path)}${resolution.replace.length ? ` (replacing ${resolution.replace.join(", ")})` : ""}`,
      );
      return EXIT.ok;
    } finally {
      reader?.close();
    }
  } catch (error) {
    return reportError(error);
  }
}

export async function memoryRemoveCommand(id: string, flags: { repo?: string }): Promise<number> {
  try {
    const repo = repoOf(flags);
    const memory = readMemory(repo);
    const lesson = lessonsOf(memory).find((l) => l.id === id);
    writeMemory(removeLine(memory, id));
    out(`removed ${id}: ${lesson?.text ?? ""}`);
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

export async function memoryEditCommand(
  id: string,
  text: string,
  flags: { repo?: string } & ConflictFlags,
): Promise<number> {
  try {
    const repo = repoOf(flags);
    const clean = cleanLessonText(text);
    const memory = readMemory(repo);
    if (!lessonsOf(memory).some((l) => l.id === id)) editLine(memory, id, clean); // throws lesson_not_found
    const conflicts = findConflicts(clean, lessonsOf(memory), id);
    showConflicts(conflicts, style(), "");
    const reader = process.stdin.isTTY ? new LineReader() : undefined;
    try {
      const resolution = await resolveConflicts(conflicts, flags, reader && ((p) => reader.ask(p)));
      if (!resolution.save) {
        out(`not changed: ${resolution.why}`);
        return EXIT.failed;
      }
      let next = editLine(memory, id, clean);
      for (const other of resolution.replace) next = removeLine(next, other);
      writeMemory(next);
      out(`edited ${id}${resolution.replace.length ? ` (replacing ${resolution.replace.join(", ")})` : ""}`);
      return EXIT.ok;
    } finally {
      reader?.close();
    }
  } catch (error) {
    return reportError(error);
  }
}

// ---- review ----------------------------------------------------------------------------------------

const KIND: Record<NonNullable<Proposal["correction"]>["kind"], string> = {
  denial: "your denial",
  "plan-sent-back": "the plan you sent back",
  "plan-edit": "your plan edit",
  intervention: "your message",
};

function describeProposal(p: Proposal, runId: string, s: Style): string[] {
  const origin = p.correction
    ? `from ${KIND[p.correction.kind]} "${p.correction.text}"`
    : "from a correction";
  const how =
    p.drafted === "quoted"
      ? `quoted, not drafted: ${p.note ?? "the correction's own words"}`
      : "drafted by the run's model";
  return [`  ${s.bold(p.lessonId)}  ${p.text}`, s.dim(`      ${origin} (${runId} #${p.sourceSeq}); ${how}`)];
}

/**
 * Asks about each pending proposal: accept, edit, reject or skip (decide later). Conflicts with saved
 * lessons are shown first and asked about on saving. Returns how many were decided.
 */
export async function reviewProposals(
  store: EventStore,
  runId: string,
  repo: string,
  pending: readonly Proposal[],
  reader: LineReader,
): Promise<number> {
  const s = style();
  let decided = 0;
  for (const p of pending) {
    out();
    for (const line of describeProposal(p, runId, s)) out(line);
    showConflicts(conflictsIn(repo, p.text), s, "      ");
    for (;;) {
      const answer = (
        await reader.ask(`${s.yellow("?")} keep this lesson? [a]ccept / [e]dit / [r]eject / [s]kip: `)
      )?.toLowerCase();
      if (answer === undefined) return decided; // input ended: the rest stay pending
      if (answer === "s" || answer === "skip") break;
      if (answer === "r" || answer === "reject") {
        await decideLesson(store, runId, { lessonId: p.lessonId, decision: "rejected", by: "cli" });
        out(s.dim("      rejected"));
        decided++;
        break;
      }
      let text = p.text;
      if (answer === "e" || answer === "edit") {
        const edited = await reader.ask("  lesson text: ");
        if (edited === undefined) return decided;
        if (edited === "") continue;
        text = cleanLessonText(edited);
        showConflicts(conflictsIn(repo, text), s, "      ");
      } else if (answer !== "a" && answer !== "accept") continue;
      const resolution = await resolveConflicts(conflictsIn(repo, text), {}, (q) => reader.ask(q));
      if (!resolution.save) {
        out(s.dim(`      not saved (${resolution.why}); still pending: entourage memory review ${runId}`));
        break;
      }
      const { saved } = await decideLesson(store, runId, {
        lessonId: p.lessonId,
        decision: text === p.text ? "accepted" : "edited",
        text: text === p.text ? undefined : text,
        by: "cli",
        replace: resolution.replace,
      });
      out(
        s.green(
          `      saved to ${where(saved!.file)} as ${saved!.lessonId}${saved!.replaced.length ? ` (replacing ${saved!.replaced.join(", ")})` : ""}`,
        ),
      );
      decided++;
      break;
    }
  }
  return decided;
}

function pendingHint(count: number, runId: string): string {
  return `${count} lesson${count === 1 ? "" : "s"} proposed from your corrections, waiting for you: entourage memory review ${runId}`;
}

/**
 * The end of a CLI run (the one place the CLI's run flow calls into lessons): the run's proposals were
 * drafted when it finished (`driveParts`); on a terminal they are reviewed right here, otherwise they
 * stay pending and a line says how to review them. Never fails the run.
 */
export async function reviewLessonsAfterRun(
  store: EventStore,
  runId: string,
  options: { interactive: boolean; json: boolean },
): Promise<void> {
  try {
    const events = await store.read(runId);
    const pending = proposalsOf(events).filter((p) => p.status === "pending");
    if (pending.length === 0) return;
    if (!options.interactive) {
      (options.json ? process.stderr : process.stdout).write(`${pendingHint(pending.length, runId)}\n`);
      return;
    }
    const created = events.find((e) => e.type === "run.created");
    if (created?.type !== "run.created") return;
    const s = style();
    out();
    out(
      `${s.bold("Lessons")} from your corrections in this run. Accepted ones are saved to ${where(`${created.data.repo}/.entourage/memory.md`)} in your checkout (review them in your PR) and given to every agent of later runs there.`,
    );
    const reader = new LineReader();
    try {
      const decided = await reviewProposals(store, runId, created.data.repo, pending, reader);
      if (decided < pending.length) out(s.dim(pendingHint(pending.length - decided, runId)));
    } finally {
      reader.close();
    }
  } catch (error) {
    process.stderr.write(
      `entourage: could not review the lessons (${(error as Error).message}); later: entourage memory review ${runId}\n`,
    );
  }
}

/** `entourage memory review <run>`: decide on a finished run's proposed lessons (drafting any not yet drafted). */
export async function memoryReviewCommand(
  runId: string,
  flags: { acceptAll?: boolean; rejectAll?: boolean },
): Promise<number> {
  try {
    if (flags.acceptAll && flags.rejectAll)
      throw new UserError("usage", "--accept-all and --reject-all cannot be used together.");
    const store = await openStore();
    try {
      const events = await store.read(runId);
      const d = createdData(runId, events);
      const repo = d.repo;
      if (undraftedCorrections(events).length > 0) {
        // The run ended without drafting (a crash, an interruption): draft with its model now.
        const model = d.model.scripted
          ? (await import("../demo-model.ts")).createScriptedDemoModel(0)
          : await loadRunModel(d.model, repo);
        await proposeLessons(store, runId, model);
      }
      const all = proposalsOf(await store.read(runId));
      const pending = all.filter((p) => p.status === "pending");
      const s = style();
      if (pending.length === 0) {
        out(
          all.length === 0
            ? `Run ${runId} proposed no lessons (no corrections with something to learn).`
            : `Every lesson of run ${runId} is decided: ${all.map((p) => `${p.lessonId} ${p.status}`).join(", ")}.`,
        );
        return EXIT.ok;
      }
      if (flags.acceptAll || flags.rejectAll) {
        let kept = 0;
        for (const p of pending) {
          for (const line of describeProposal(p, runId, s)) out(line);
          const conflicts = conflictsIn(repo, p.text);
          if (flags.acceptAll && conflicts.duplicates.length + conflicts.contradictions.length > 0) {
            showConflicts(conflicts, s, "      ");
            out(s.dim("      left pending: review it without --accept-all to decide"));
            continue;
          }
          const decision = flags.acceptAll ? "accepted" : "rejected";
          await decideLesson(store, runId, { lessonId: p.lessonId, decision, by: "cli" });
          out(s.dim(`      ${decision}`));
          kept++;
        }
        return kept === pending.length ? EXIT.ok : EXIT.failed;
      }
      out(
        `${pending.length} lesson${pending.length === 1 ? "" : "s"} proposed by run ${runId}. Accepted ones are saved to ${where(`${repo}/.entourage/memory.md`)}.`,
      );
      const reader = new LineReader();
      try {
        const decided = await reviewProposals(store, runId, repo, pending, reader);
        if (decided < pending.length) out(s.dim(pendingHint(pending.length - decided, runId)));
      } finally {
        reader.close();
      }
      return EXIT.ok;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}

async function loadRunModel(ref: { provider: string; model: string; baseUrl?: string }, repo: string) {
  const { loadConfig } = await import("../../config/index.ts");
  const config = loadConfig({ home: home(), repo, flags: {} });
  return makeModel(
    { provider: ref.provider, model: ref.model, baseUrl: ref.baseUrl },
    { idleTimeoutMs: config.modelIdleTimeoutSeconds * 1000, maxRetries: config.maxRetries },
  );
}
