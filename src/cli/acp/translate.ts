/**
 * A run's events as ACP `session/update`s: what an editor shows of an Entourage run. Pure (it keeps only what
 * it needs to relate later events to earlier ones), so it is unit-tested on plain events; acp-session.ts
 * feeds it the run's log as the log grows, whichever process or client wrote the events.
 */
import { isAbsolute, join } from "node:path";
import type {
  PlanEntry,
  SessionUpdate,
  ToolCallContent,
  ToolCallLocation,
  ToolCallStatus,
  ToolKind,
} from "@agentclientprotocol/sdk";
import type { EntourageEvent, EventData, Risk } from "../../core/index.ts";

/** Tools whose calls are the engine's protocol, shown as their outcome (the plan, the final summary). */
const PROTOCOL_TOOLS = new Set(["finish", "propose_plan"]);

/** Who answered the editor's own requests: its prompts and approvals are not echoed back to it. */
export const ACP_CLIENT = "acp";

const KIND_BY_TOOL: Record<string, ToolKind> = {
  read_file: "read",
  list_files: "read",
  search: "search",
  edit_file: "edit",
  write_file: "edit",
  run_command: "execute",
};

const KIND_BY_RISK: Record<Risk, ToolKind> = {
  read: "read",
  write: "edit",
  execute: "execute",
  network: "fetch",
  destructive: "delete",
};

type Args = Record<string, unknown>;

const argsOf = (value: unknown): Args =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Args) : {};

const str = (args: Args, ...keys: string[]): string | undefined => {
  for (const key of keys) if (typeof args[key] === "string") return args[key] as string;
  return undefined;
};

/** The ACP tool kind of a call: by the built-in tool's name, else by its risk. */
export function toolKind(name: string, risk: Risk): ToolKind {
  return KIND_BY_TOOL[name] ?? KIND_BY_RISK[risk];
}

/** A one-line title for a tool call, as an editor lists it. */
export function toolTitle(name: string, rawArgs: unknown): string {
  const args = argsOf(rawArgs);
  const path = str(args, "path", "file_path", "file");
  switch (name) {
    case "read_file":
      return `Read ${path ?? "a file"}`;
    case "list_files":
      return `List ${path ?? "."}`;
    case "edit_file":
      return `Edit ${path ?? "a file"}`;
    case "write_file":
      return `Write ${path ?? "a file"}`;
    case "search":
      return `Search ${str(args, "pattern", "query") ?? ""}`.trim();
    case "run_command":
      return `Run \`${str(args, "command", "cmd") ?? ""}\``;
    case "plan":
      return "Approve the plan";
    default:
      return name;
  }
}

/** Per-session translation state: which calls are shown, their names and arguments, the plan approvals. */
export class UpdateTranslator {
  readonly #repo: string;
  readonly #calls = new Map<string, { name: string; args: unknown }>();
  /** Approvals with no tool call (the plan checkpoint): shown as a call of their own, keyed by approval id. */
  readonly #checkpoints = new Set<string>();
  readonly #approvalCall = new Map<string, string>();

  /** `repo`: the session's checkout; tool paths (relative to the run's copy) are shown under it. */
  constructor(repo: string) {
    this.#repo = repo;
  }

  /** The ACP tool call id an approval is about: its tool call's id, or its own for a checkpoint. */
  toolCallIdOf(approvalId: string): string | undefined {
    return this.#approvalCall.get(approvalId);
  }

  /** The updates one event makes; most events make none. */
  translate(event: EntourageEvent): SessionUpdate[] {
    switch (event.type) {
      case "agent.started":
        if (event.data.phase === "orchestrator") return [];
        return [message(`\n\n**${event.data.name}** · ${event.data.phase ?? "task"}\n\n`, `${event.id}`)];
      case "agent.text.delta":
        return [message(event.data.text, `${event.agentId}:${event.data.step}`)];
      case "agent.reasoning.delta":
        return [
          {
            sessionUpdate: "agent_thought_chunk",
            content: { type: "text", text: event.data.text },
            messageId: `${event.agentId}:${event.data.step}:thought`,
          },
        ];
      case "tool.call.requested":
        return this.#requested(event.data);
      case "tool.call.started":
        return this.#calls.has(event.data.callId)
          ? [{ sessionUpdate: "tool_call_update", toolCallId: event.data.callId, status: "in_progress" }]
          : [];
      case "tool.call.ended":
        return this.#ended(event.data);
      case "approval.requested":
        return this.#approvalRequested(event.data);
      case "approval.resolved":
        return this.#approvalResolved(event.data);
      case "plan.proposed":
      case "plan.revised":
        return [{ sessionUpdate: "plan", entries: planEntries(event.data.plan) }];
      case "intervention.received":
        // What other clients (terminal, dashboard, API) told the run; the editor shows its own prompts itself.
        if (event.data.by === ACP_CLIENT) return [];
        return [
          {
            sessionUpdate: "user_message_chunk",
            content: { type: "text", text: `[${event.data.by}] ${event.data.message}` },
            messageId: event.id,
          },
        ];
      case "diff.ready": {
        const d = event.data;
        if (d.files.length === 0) return [message("\n\nNo file changed.\n", event.id)];
        const files = d.files.map((f) => `- ${f}`).join("\n");
        return [
          message(
            `\n\nChanged ${d.files.length} file(s) (+${d.insertions} −${d.deletions}) in the run's copy:\n${files}\nYour checkout is untouched until you run /apply.\n`,
            event.id,
          ),
        ];
      }
      case "verification.ended":
        return [
          message(
            `\n\nTests (${event.data.command ?? "the project's test command"}): ${event.data.status} — ${event.data.reason}\n`,
            event.id,
          ),
        ];
      case "run.finished":
        return [message(`\n\n**Run ${event.data.status}.** ${event.data.summary}\n`, event.id)];
      default:
        return [];
    }
  }

  #requested(d: EventData<"tool.call.requested">): SessionUpdate[] {
    if (PROTOCOL_TOOLS.has(d.name)) return [];
    this.#calls.set(d.callId, { name: d.name, args: d.args });
    const diff = this.#diff(d.name, d.args);
    return [
      {
        sessionUpdate: "tool_call",
        toolCallId: d.callId,
        title: toolTitle(d.name, d.args),
        kind: toolKind(d.name, d.risk),
        status: "pending",
        rawInput: d.args,
        content: diff ? [diff] : [],
        locations: this.#locations(d.args),
      },
    ];
  }

  #ended(d: EventData<"tool.call.ended">): SessionUpdate[] {
    const call = this.#calls.get(d.callId);
    if (!call) return [];
    const failed = d.isError || d.skipped !== undefined;
    const diff = failed ? undefined : this.#diff(call.name, call.args);
    const content: ToolCallContent[] = diff ? [diff] : [];
    if (d.output !== "") content.push({ type: "content", content: { type: "text", text: d.output } });
    const status: ToolCallStatus = failed ? "failed" : "completed";
    return [
      {
        sessionUpdate: "tool_call_update",
        toolCallId: d.callId,
        status,
        content,
        rawOutput: { output: d.output, exitCode: d.exitCode, skipped: d.skipped },
      },
    ];
  }

  #approvalRequested(d: EventData<"approval.requested">): SessionUpdate[] {
    if (d.callId) {
      this.#approvalCall.set(d.approvalId, d.callId);
      return [];
    }
    this.#checkpoints.add(d.approvalId);
    this.#approvalCall.set(d.approvalId, d.approvalId);
    return [
      {
        sessionUpdate: "tool_call",
        toolCallId: d.approvalId,
        title: toolTitle(d.tool, d.args),
        kind: d.tool === "plan" ? "think" : toolKind(d.tool, d.risk),
        status: "pending",
        rawInput: d.args,
        content: [{ type: "content", content: { type: "text", text: d.reason } }],
      },
    ];
  }

  #approvalResolved(d: EventData<"approval.resolved">): SessionUpdate[] {
    if (!this.#checkpoints.has(d.approvalId)) return [];
    const approved = d.decision !== "deny";
    return [
      {
        sessionUpdate: "tool_call_update",
        toolCallId: d.approvalId,
        status: approved ? "completed" : "failed",
        content: [
          {
            type: "content",
            content: {
              type: "text",
              text: `${approved ? "Approved" : "Denied"} by ${d.by}${d.reason ? `: ${d.reason}` : ""}`,
            },
          },
        ],
      },
    ];
  }

  /** A file edit's diff, under the session's checkout (where /apply writes it). */
  #diff(name: string, rawArgs: unknown): ToolCallContent | undefined {
    const args = argsOf(rawArgs);
    const path = str(args, "path", "file_path", "file");
    if (!path) return undefined;
    if (name === "edit_file") {
      const newText = str(args, "new_string", "new", "replacement");
      if (newText === undefined) return undefined;
      return {
        type: "diff",
        path: this.#absolute(path),
        oldText: str(args, "old_string", "old", "search") ?? null,
        newText,
      };
    }
    if (name === "write_file") {
      const newText = str(args, "content", "contents", "text", "file_text");
      return newText === undefined ? undefined : { type: "diff", path: this.#absolute(path), newText };
    }
    return undefined;
  }

  #locations(rawArgs: unknown): ToolCallLocation[] {
    const path = str(argsOf(rawArgs), "path", "file_path", "file");
    return path ? [{ path: this.#absolute(path) }] : [];
  }

  #absolute(path: string): string {
    return isAbsolute(path) ? path : join(this.#repo, path);
  }
}

function message(text: string, messageId: string): SessionUpdate {
  return { sessionUpdate: "agent_message_chunk", content: { type: "text", text }, messageId };
}

const PLAN_STATUS = {
  pending: "pending",
  in_progress: "in_progress",
  done: "completed",
  skipped: "completed",
} as const;

/** The orchestrator's plan as ACP plan entries (each step with its owner agent). */
export function planEntries(plan: EventData<"plan.proposed">["plan"]): PlanEntry[] {
  return plan.steps.map((step) => ({
    content: `${step.description} (${step.owner})`,
    priority: "medium",
    status: PLAN_STATUS[step.status],
  }));
}
