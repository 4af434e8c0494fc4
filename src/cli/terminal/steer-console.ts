import { clearScreenDown, createInterface, cursorTo, type Interface, moveCursor } from "node:readline";
import {
  type ApprovalRule,
  alwaysAllowRule,
  describeRule,
  errorMessage,
  PLAN_APPROVAL_TOOL,
} from "../../core/index.ts";
import type { ApprovalDecision, ApprovalRequest } from "../../orchestrator/index.ts";
import { describeArgs } from "./render.ts";
import type { Style } from "./style.ts";

/** What a person at the terminal can do to a run: the local RunControl, or a server over HTTP. */
export interface Steering {
  intervene(message: string, interrupt: boolean, redirect?: { to?: string }): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  cancel(): Promise<void>;
}

/** The keys, as the live view's header and `/help` show them. */
export const STEER_KEYS =
  "type a message + Enter: it reaches the agent at its next step · !message: interrupt now · /redirect [@agent] message: stop the agent and restart its phase (or hand it to @agent) · /pause /resume /cancel · /help";

type Question = Pick<ApprovalRequest, "approvalId" | "tool" | "args" | "risk" | "reason"> & {
  stage: "decide" | "reason" | "rule";
  rule?: ApprovalRule;
  resolve: (decision: ApprovalDecision) => void;
  reject: (error: unknown) => void;
};

/**
 * One line reader for the whole life of a run, shared by steering and approvals: while an approval
 * question is open, a line answers it (y / n then an optional reason / a then a confirmation); otherwise
 * a line is a message to the run, `!line` an interrupting one, `/pause`, `/resume`, `/cancel` act.
 * Questions queue up in order; one answered elsewhere (another client, the timeout) is dropped.
 * The live view writes through `write`, so the open question stays on screen, whole, below whatever
 * else is printed while it waits.
 */
export class SteerConsole {
  readonly #rl: Interface;
  readonly #out: NodeJS.WritableStream;
  readonly #s: Style;
  readonly #steering: Steering;
  readonly #by: string;
  readonly #questions: Question[] = [];
  readonly #terminal: boolean;
  #closed = false;
  /** The open question's prompt is on screen (and must be taken down before other output, then redrawn). */
  #prompting = false;

  constructor(options: {
    input: NodeJS.ReadableStream;
    output: NodeJS.WritableStream;
    style: Style;
    steering: Steering;
    /** Who the answers are from, as the log records it: cli, attach. */
    by?: string;
    terminal?: boolean;
  }) {
    this.#out = options.output;
    this.#s = options.style;
    this.#steering = options.steering;
    this.#by = options.by ?? "cli";
    this.#terminal = options.terminal ?? false;
    this.#rl = createInterface({
      input: options.input,
      output: options.output,
      terminal: this.#terminal,
    });
    this.#rl.on("line", (line) => this.#onLine(line));
    // In raw mode Ctrl-C reaches readline, not the process: hand it on, so the run stops as it would.
    this.#rl.on("SIGINT", () => process.kill(process.pid, "SIGINT"));
  }

  /** An approver for RunControl: asks here, raced against the other clients by RunControl. */
  readonly approver = (request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision> =>
    this.ask(request, signal);

  /** Asks about one approval; rejects when `signal` aborts (someone else answered first). */
  ask(
    request: Pick<ApprovalRequest, "approvalId" | "tool" | "args" | "risk" | "reason">,
    signal: AbortSignal,
  ): Promise<ApprovalDecision> {
    return new Promise((resolve, reject) => {
      if (this.#closed || signal.aborted) {
        reject(new Error("not asked: the console is closed or the request was answered"));
        return;
      }
      const question: Question = { ...request, stage: "decide", resolve, reject };
      this.#questions.push(question);
      signal.addEventListener(
        "abort",
        () => {
          const i = this.#questions.indexOf(question);
          if (i < 0) return;
          this.#questions.splice(i, 1);
          if (i === 0) {
            // The question stays on screen as history, its line ended by the note.
            this.#prompting = false;
            this.#out.write("\n");
            this.#print(this.#s.dim("    (answered elsewhere)"));
            this.#promptNext();
          }
          reject(new Error("answered elsewhere"));
        },
        { once: true },
      );
      if (this.#questions.length === 1) this.#promptNext();
    });
  }

  /** Stops reading the terminal; open questions are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const q of this.#questions.splice(0)) q.reject(new Error("the console was closed"));
    this.#rl.close();
  }

  /**
   * Output from elsewhere (the live view): while a question waits, its prompt line (and what was typed
   * so far) is taken down, the text printed, and the prompt drawn again below it.
   */
  readonly write = (text: string): void => {
    if (!this.#prompting || this.#closed) {
      this.#out.write(text);
      return;
    }
    // Where readline drew the prompt: the cursor sits `rows` terminal rows below its start when it wraps.
    const rows = this.#terminal ? this.#rl.getCursorPos().rows : 0;
    if (this.#terminal) {
      moveCursor(this.#out, 0, -rows);
      cursorTo(this.#out, 0);
      clearScreenDown(this.#out);
    } else this.#out.write("\n");
    this.#out.write(text.endsWith("\n") ? text : `${text}\n`);
    // readline redraws by first moving up the rows it drew last time: give it those rows below the text.
    this.#out.write("\n".repeat(rows));
    this.#rl.prompt(true);
  };

  #print(text: string): void {
    this.write(`${text}\n`);
  }

  #promptNext(): void {
    const q = this.#questions[0];
    if (!q || this.#closed) {
      // No question: a line typed now is a message, shown without a stale question in front of it.
      this.#prompting = false;
      this.#rl.setPrompt("");
      return;
    }
    const s = this.#s;
    let prompt: string;
    if (q.stage === "decide") {
      const what =
        q.tool === PLAN_APPROVAL_TOOL
          ? "the plan above"
          : `${s.bold(q.tool)} ${describeArgs(q.tool, q.args)}`;
      const always = alwaysAllowRule(q) ? " / [a]lways" : "";
      prompt = `${s.yellow("?")} allow ${what} ${s.dim(`[${q.risk}]`)}  [y]es / [n]o${always}: `;
    } else if (q.stage === "reason") {
      prompt = "  reason for the agent (optional): ";
    } else {
      prompt = `  save the rule ${s.bold(describeRule(q.rule!))} to the project's .entourage/config.json? [y/n]: `;
    }
    this.#rl.setPrompt(prompt);
    this.#prompting = false;
    this.#out.write("\n");
    this.#rl.prompt();
    this.#prompting = true;
  }

  #onLine(line: string): void {
    // Enter ended the prompt's line: it is history now, redrawn only if a question is asked again.
    this.#prompting = false;
    const q = this.#questions[0];
    if (q) {
      this.#answer(q, line.trim());
      return;
    }
    const text = line.trim();
    if (text === "") return;
    if (text === "/help") {
      this.#print(this.#s.dim(`  keys: ${STEER_KEYS}`));
      return;
    }
    const command =
      text === "/pause"
        ? () => this.#steering.pause()
        : text === "/resume"
          ? () => this.#steering.resume()
          : text === "/cancel"
            ? () => this.#steering.cancel()
            : undefined;
    if (command) {
      this.#act(command);
      return;
    }
    const redirect = /^\/redirect(?:\s+@([\w.-]+))?\s+(.+)$/.exec(text);
    if (redirect) {
      const [, to, message] = redirect;
      this.#act(() => this.#steering.intervene(message!.trim(), true, { to }));
      return;
    }
    if (text.startsWith("/")) {
      this.#print(this.#s.yellow(`  unknown command ${text}; keys: ${STEER_KEYS}`));
      return;
    }
    const interrupt = text.startsWith("!");
    const message = interrupt ? text.slice(1).trim() : text;
    if (message !== "") this.#act(() => this.#steering.intervene(message, interrupt));
  }

  #act(action: () => Promise<void>): void {
    action().catch((error: unknown) => this.#print(this.#s.red(`  ${errorMessage(error)}`)));
  }

  #answer(q: Question, answer: string): void {
    const a = answer.toLowerCase();
    const done = (decision: ApprovalDecision) => {
      this.#questions.shift();
      q.resolve(decision);
      this.#promptNext();
    };
    if (q.stage === "decide") {
      if (a === "y" || a === "yes") {
        done({ decision: "approve", by: this.#by });
        return;
      }
      if (a === "n" || a === "no") q.stage = "reason";
      else if (a === "a" || a === "always") {
        q.rule = alwaysAllowRule(q);
        if (q.rule) q.stage = "rule";
      }
    } else if (q.stage === "reason") {
      done({ decision: "deny", by: this.#by, reason: answer || undefined });
      return;
    } else {
      if (a === "y" || a === "yes") {
        done({ decision: "approve", by: this.#by, rule: q.rule });
        return;
      }
      q.stage = "decide";
    }
    this.#promptNext();
  }
}
