/**
 * One ACP session is one Entourage run on the session's `cwd`: the first prompt starts the run, a prompt
 * while it is live is a message to it (delivered at the agent's next step), a prompt after it finished reopens
 * it with a follow-up request (run.reopened), and `session/cancel` cancels it. The run is driven in this
 * process with the same RunControl the HTTP API steers, so an approval is answered by whichever client
 * answers first: the editor (session/request_permission), `entourage attach`, the dashboard or the API.
 */
import type { AgentContext, PermissionOption, SessionUpdate, StopReason } from "@agentclientprotocol/sdk";
import {
  AbortedError,
  alwaysAllowRule,
  describeRule,
  errorMessage,
  foldRun,
  isTerminal,
  type RunState,
} from "../../core/index.ts";
import {
  type ApprovalDecision,
  type Approver,
  applyRun,
  describeReview,
  type RunControl,
  reopenRun,
} from "../../orchestrator/index.ts";
import type { EventStore } from "../../store/index.ts";
import { applyJournals } from "../compose.ts";
import { createRunControl, driveParts } from "../drive.ts";
import { type DriveParts, logNewRun, partsOf, prepareRun, type RunRequest } from "../launcher.ts";
import { prepareResume } from "../resume-run.ts";
import { ACP_CLIENT, toolTitle, UpdateTranslator } from "./translate.ts";

/** What every session's runs are started with: the `entourage acp` flags. */
export type SessionRunOptions = Omit<RunRequest, "task" | "repo" | "askTrust" | "queued">;

/** What the sessions of one `entourage acp` process share. */
export interface SessionHost {
  store: EventStore;
  /** Runs driven here right now: the process's HTTP API steers these (the same map). */
  runs: Map<string, RunControl>;
  runOptions: SessionRunOptions;
  /** Makes a run findable by `entourage attach` (the process's API server); returns the undo. */
  announce(runId: string): () => void;
  /** Aborted when the process stops: live runs are left paused and resumable. */
  shutdown: AbortSignal;
  /** The process's API server, when it listens. */
  serverUrl?: string;
  log(message: string): void;
}

/** Slash commands the editor offers (advertised with `available_commands_update`). */
export const SLASH_COMMANDS = [
  {
    name: "apply",
    description:
      "write the run's change into your checkout, like `entourage apply` (refused if those files changed there since the run started)",
  },
] as const;

export class AcpSession {
  readonly id: string;
  readonly cwd: string;
  runId: string | undefined;
  readonly #host: SessionHost;
  readonly #client: AgentContext;
  readonly #translator: UpdateTranslator;
  /** The run's drive while this process drives it; resolves with the turn's stop reason. */
  #driving: { control: RunControl; done: Promise<StopReason> } | undefined;
  #nextSeq = 0;
  #pumping: Promise<void> | undefined;
  #dirty = false;
  #unsubscribe: (() => void) | undefined;
  #applies = 0;
  #prompted = false;
  /** Set while a prompt composes the run (before it is driven). */
  #preparing: Promise<void> | undefined;
  #cancelRequested = false;

  constructor(id: string, cwd: string, host: SessionHost, client: AgentContext) {
    this.id = id;
    this.cwd = cwd;
    this.#host = host;
    this.#client = client;
    this.#translator = new UpdateTranslator(cwd);
  }

  /** Tells the editor the slash commands (`available_commands_update`). */
  offerCommands(): Promise<void> {
    return this.#send({
      sessionUpdate: "available_commands_update",
      availableCommands: SLASH_COMMANDS.map((c) => ({ name: c.name, description: c.description })),
    });
  }

  /** Handles one `session/prompt`; resolves when the turn ends (the run finished, or was cancelled). */
  async prompt(text: string): Promise<StopReason> {
    if (!this.#prompted) {
      // Not awaited: nothing may come between a prompt's arrival and its claim on the session (#preparing);
      // notifications still go out in the order they are sent.
      this.#prompted = true;
      void this.offerCommands();
    }
    const command = /^\/(\S+)\s*$/.exec(text.trim())?.[1];
    if (command === "apply") return this.#apply();
    // A prompt that arrives while the run is being composed waits for it, then joins it as a message.
    while (this.#preparing) await this.#preparing;
    if (this.#driving) {
      // The run is live: the prompt is a message to it, delivered at the next step boundary.
      const { control, done } = this.#driving;
      if (!(await this.#tell(control, done, text))) return this.prompt(text); // it ended first: a follow-up
      return done;
    }
    const ready = Promise.withResolvers<void>();
    this.#preparing = ready.promise;
    const done = () => {
      this.#preparing = undefined;
      ready.resolve();
    };
    try {
      return await (this.runId ? this.#continue(text, done) : this.#start(text, done));
    } finally {
      done();
      this.#cancelRequested = false; // a cancel of a run that never started is spent
    }
  }

  /** `session/cancel`: the run's turn stops and ends `cancelled`; a later prompt reopens it. */
  cancel(): void {
    if (this.#driving) this.#driving.control.cancel(ACP_CLIENT, "cancelled in the editor");
    else if (this.#preparing) this.#cancelRequested = true; // the run is cancelled as soon as it is driven
  }

  /** Stops following the run (the connection closed). */
  close(): void {
    this.#unsubscribe?.();
  }

  /** `ready`: called once the run is composed, just before it is driven. */
  async #start(task: string, ready: () => void): Promise<StopReason> {
    const prepared = await prepareRun({ ...this.#host.runOptions, task, repo: this.cwd });
    const lease = await logNewRun(this.#host.store, prepared, "entourage acp");
    const parts = await partsOf(prepared, lease).catch(async (error: unknown) => {
      await lease.release();
      throw error;
    });
    this.runId = prepared.runId;
    const runId = prepared.runId;
    const where = this.#host.serverUrl ? ` · API ${this.#host.serverUrl}/runs/${runId}` : "";
    await this.#send({
      sessionUpdate: "agent_message_chunk",
      content: {
        type: "text",
        text: `Run ${runId} on a private copy of ${this.cwd} (watch it: entourage attach ${runId}${where}).\n\n`,
      },
      messageId: `${runId}:start`,
    });
    this.#follow(runId);
    this.#host.log(`session ${this.id}: run ${runId} started in ${this.cwd}`);
    ready();
    return this.#drive(runId, parts);
  }

  /** A prompt for a run this process does not drive now: reopened when finished, else resumed with it. */
  async #continue(text: string, ready: () => void): Promise<StopReason> {
    const runId = this.runId!;
    const { store, runOptions } = this.#host;
    const finished = isTerminal(foldRun(runId, await store.read(runId)).status);
    if (finished) await reopenRun(store, runId, { request: text, by: ACP_CLIENT });
    const { parts } = await prepareResume(
      store,
      runId,
      {
        approval: runOptions.approval,
        yes: runOptions.yes,
        withoutRepoSettings: runOptions.withoutRepoSettings,
      },
      "entourage acp",
    );
    this.#host.log(`session ${this.id}: run ${runId} ${finished ? "reopened" : "resumed"}`);
    ready();
    return this.#drive(runId, parts, finished ? undefined : text);
  }

  async #drive(runId: string, parts: DriveParts, message?: string): Promise<StopReason> {
    const control = createRunControl(runId, parts, this.#approver);
    control.hasRemoteClients = true;
    this.#host.runs.set(runId, control);
    const unannounce = this.#host.announce(runId);
    const stop = (state: RunState | undefined): StopReason =>
      state?.status === "cancelled" || control.cancelled || this.#host.shutdown.aborted
        ? "cancelled"
        : "end_turn";
    const done = driveParts(runId, parts, control, this.#host.shutdown)
      .then(
        (state) => stop(state),
        (error: unknown) => {
          if (AbortedError.isInstance(error) || this.#host.shutdown.aborted) return stop(undefined);
          throw error;
        },
      )
      .finally(() => {
        this.#host.runs.delete(runId);
        unannounce();
        this.#driving = undefined;
      });
    this.#driving = { control, done };
    if (this.#cancelRequested) {
      this.#cancelRequested = false;
      control.cancel(ACP_CLIENT, "cancelled in the editor");
    }
    if (message) await this.#tell(control, done, message);
    const reason = await done;
    await this.#caughtUp(); // every update of the turn reaches the editor before its response
    return reason;
  }

  /** A message to the driven run once its engine is attached; false when the drive ended before that. */
  async #tell(control: RunControl, done: Promise<StopReason>, message: string): Promise<boolean> {
    const ended = done.then(
      () => "ended" as const,
      () => "ended" as const,
    );
    if ((await Promise.race([control.attached.then(() => "attached" as const), ended])) === "ended")
      return false;
    await control.intervene({ message, by: ACP_CLIENT });
    return true;
  }

  /** The editor's answer to an approval, raced against every other client's (RunControl keeps the first). */
  readonly #approver: Approver = async (request, signal): Promise<ApprovalDecision> => {
    await this.#caughtUp(); // the tool call the approval is about is shown first
    const toolCallId =
      this.#translator.toolCallIdOf(request.approvalId) ?? request.callId ?? request.approvalId;
    const rule = alwaysAllowRule(request);
    const options: PermissionOption[] = [
      { optionId: "allow_once", name: "Allow", kind: "allow_once" },
      ...(rule
        ? [
            {
              optionId: "allow_always",
              name: `Always allow ${describeRule(rule)}`,
              kind: "allow_always" as const,
            },
          ]
        : []),
      { optionId: "reject_once", name: "Reject", kind: "reject_once" },
    ];
    // Answered elsewhere first: the editor is told to drop its question ($/cancel_request); whatever it
    // answers after that is ignored (RunControl has settled the approval).
    const response = await this.#client.request(
      "session/request_permission",
      {
        sessionId: this.id,
        toolCall: {
          toolCallId,
          title: toolTitle(request.tool, request.args),
          status: "pending",
          rawInput: request.args,
        },
        options,
      },
      { cancellationSignal: signal },
    );
    if (signal.aborted) throw new AbortedError("answered by another client first");
    const outcome = response.outcome;
    if (outcome.outcome === "cancelled")
      return { decision: "deny", by: ACP_CLIENT, reason: "the editor cancelled the request" };
    switch (outcome.optionId) {
      case "allow_once":
        return { decision: "approve", by: ACP_CLIENT };
      case "allow_always":
        return { decision: "approve", by: ACP_CLIENT, rule };
      case "reject_once":
        return { decision: "deny", by: ACP_CLIENT, reason: "rejected in the editor" };
      default:
        throw new Error(`the editor chose an option that was not offered: ${outcome.optionId}`);
    }
  };

  /** `/apply`: the run's change into the checkout, as `entourage apply` does; the outcome is the reply. */
  async #apply(): Promise<StopReason> {
    const say = (text: string) =>
      this.#send({ sessionUpdate: "agent_message_chunk", content: { type: "text", text } });
    if (!this.runId) {
      await say("Nothing to apply yet: no run in this session. Say what to do first.");
      return "end_turn";
    }
    const runId = this.runId;
    const toolCallId = `apply-${++this.#applies}`;
    await this.#send({
      sessionUpdate: "tool_call",
      toolCallId,
      title: `Apply run ${runId} to ${this.cwd}`,
      kind: "edit",
      status: "in_progress",
    });
    try {
      const result = await applyRun(this.#host.store, runId, {
        journals: applyJournals(),
        confirm: (items) => this.#confirmReview(toolCallId, describeReview(items)),
      });
      const text =
        result.files.length === 0
          ? `Run ${runId} changed nothing; ${result.target} is unchanged.`
          : `Applied ${result.files.length} file(s) to ${result.target}:\n${result.files.map((f) => `- ${f}`).join("\n")}`;
      await this.#send({
        sessionUpdate: "tool_call_update",
        toolCallId,
        status: "completed",
        content: [{ type: "content", content: { type: "text", text } }],
      });
      await say(text);
    } catch (error) {
      await this.#send({ sessionUpdate: "tool_call_update", toolCallId, status: "failed" });
      await say(`Not applied: ${errorMessage(error)}`);
    }
    return "end_turn";
  }

  async #confirmReview(toolCallId: string, review: string): Promise<boolean> {
    const response = await this.#client.request("session/request_permission", {
      sessionId: this.id,
      toolCall: {
        toolCallId,
        title: "Apply changes that need review",
        content: [{ type: "content", content: { type: "text", text: review } }],
      },
      options: [
        { optionId: "allow_once", name: "Apply them too", kind: "allow_once" },
        { optionId: "reject_once", name: "Apply nothing", kind: "reject_once" },
      ],
    });
    return response.outcome.outcome === "selected" && response.outcome.optionId === "allow_once";
  }

  /** Follows the run's log: every new event is translated and sent, in order. */
  #follow(runId: string): void {
    this.#unsubscribe?.();
    this.#unsubscribe = this.#host.store.subscribe(runId, () => this.#kick());
    this.#kick();
  }

  #kick(): void {
    if (this.#pumping) {
      this.#dirty = true;
      return;
    }
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
    });
  }

  async #pump(): Promise<void> {
    const runId = this.runId;
    if (!runId) return;
    do {
      this.#dirty = false;
      for (const event of await this.#host.store.read(runId, { fromSeq: this.#nextSeq })) {
        this.#nextSeq = event.seq + 1;
        for (const update of this.#translator.translate(event)) await this.#send(update);
      }
    } while (this.#dirty);
  }

  /** Resolves once every event logged so far has been sent to the editor. */
  async #caughtUp(): Promise<void> {
    this.#kick();
    while (this.#pumping) await this.#pumping;
  }

  #send(update: SessionUpdate): Promise<void> {
    return this.#client.notify("session/update", { sessionId: this.id, update }).catch((error: unknown) => {
      this.#host.log(`session ${this.id}: an update did not reach the editor (${errorMessage(error)})`);
    });
  }
}
