import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SessionUpdate } from "@agentclientprotocol/sdk";
import { sampleLog } from "../../../test/support/event-samples.ts";
import type { EntourageEvent, NewEvent } from "../../core/index.ts";
import { UpdateTranslator } from "./translate.ts";

const REPO = "/home/u/dates";

/** Envelopes the events as a run's log (seq from 0). */
function log(events: NewEvent[]): EntourageEvent[] {
  return events.map(
    (e, seq) => ({ ...e, id: `evt_${seq}`, runId: "run_t", seq, time: 1000 + seq, v: 1 }) as EntourageEvent,
  );
}

function translateAll(events: NewEvent[]): SessionUpdate[] {
  const translator = new UpdateTranslator(REPO);
  return log(events).flatMap((e) => translator.translate(e));
}

const edit = { path: "src/date.js", old_string: "getUTCMonth()", new_string: "getUTCMonth() + 1" };

describe("run events as ACP session updates", () => {
  it("an edit is a tool call with its diff under the checkout: pending, in_progress, completed", () => {
    const updates = translateAll([
      {
        type: "tool.call.requested",
        agentId: "a1",
        data: { callId: "c1", name: "edit_file", args: edit, risk: "write", step: 1 },
      },
      { type: "tool.call.started", agentId: "a1", data: { callId: "c1", name: "edit_file" } },
      {
        type: "tool.call.ended",
        agentId: "a1",
        data: {
          callId: "c1",
          name: "edit_file",
          output: "Edited src/date.js",
          isError: false,
          durationMs: 3,
        },
      },
    ]);
    const diff = {
      type: "diff",
      path: "/home/u/dates/src/date.js",
      oldText: "getUTCMonth()",
      newText: "getUTCMonth() + 1",
    };
    assert.deepEqual(updates, [
      {
        sessionUpdate: "tool_call",
        toolCallId: "c1",
        title: "Edit src/date.js",
        kind: "edit",
        status: "pending",
        rawInput: edit,
        content: [diff],
        locations: [{ path: "/home/u/dates/src/date.js" }],
      },
      { sessionUpdate: "tool_call_update", toolCallId: "c1", status: "in_progress" },
      {
        sessionUpdate: "tool_call_update",
        toolCallId: "c1",
        status: "completed",
        content: [diff, { type: "content", content: { type: "text", text: "Edited src/date.js" } }],
        rawOutput: { output: "Edited src/date.js", exitCode: undefined, skipped: undefined },
      },
    ]);
  });

  it("a denied or failing call ends failed, without a diff", () => {
    const updates = translateAll([
      {
        type: "tool.call.requested",
        data: { callId: "c2", name: "edit_file", args: edit, risk: "write", step: 1 },
      },
      {
        type: "tool.call.ended",
        data: {
          callId: "c2",
          name: "edit_file",
          output: "The user denied this call.",
          isError: true,
          durationMs: 0,
          skipped: "denied",
        },
      },
      {
        type: "tool.call.requested",
        data: { callId: "c3", name: "run_command", args: { command: "npm test" }, risk: "execute", step: 2 },
      },
      {
        type: "tool.call.ended",
        data: {
          callId: "c3",
          name: "run_command",
          output: "1 failing",
          isError: true,
          durationMs: 9,
          exitCode: 1,
        },
      },
    ]);
    const ends = updates.filter((u) => u.sessionUpdate === "tool_call_update");
    assert.deepEqual(
      ends.map(
        (u) => u.sessionUpdate === "tool_call_update" && [u.toolCallId, u.status, u.content?.[0]?.type],
      ),
      [
        ["c2", "failed", "content"],
        ["c3", "failed", "content"],
      ],
    );
    const command = updates.find((u) => u.sessionUpdate === "tool_call" && u.toolCallId === "c3");
    assert.equal(command?.sessionUpdate === "tool_call" && command.title, "Run `npm test`");
    assert.equal(command?.sessionUpdate === "tool_call" && command.kind, "execute");
  });

  it("the protocol tools (finish, propose_plan) are no tool calls; their outcome is the plan and the summary", () => {
    const updates = translateAll([
      {
        type: "tool.call.requested",
        data: { callId: "f", name: "finish", args: { status: "done" }, risk: "read", step: 3 },
      },
      {
        type: "tool.call.ended",
        data: { callId: "f", name: "finish", output: "ok", isError: false, durationMs: 0 },
      },
      {
        type: "plan.proposed",
        data: {
          planId: "p1",
          plan: {
            facts: [],
            steps: [
              { id: "s1", description: "Fix the month", owner: "implementer", status: "done" },
              { id: "s2", description: "Run the tests", owner: "tester", status: "pending" },
            ],
          },
        },
      },
      { type: "run.finished", data: { status: "succeeded", summary: "Fixed formatISODate." } },
    ]);
    assert.deepEqual(updates, [
      {
        sessionUpdate: "plan",
        entries: [
          { content: "Fix the month (implementer)", priority: "medium", status: "completed" },
          { content: "Run the tests (tester)", priority: "medium", status: "pending" },
        ],
      },
      {
        sessionUpdate: "agent_message_chunk",
        content: { type: "text", text: "\n\n**Run succeeded.** Fixed formatISODate.\n" },
        messageId: "evt_3",
      },
    ]);
  });

  it("text and reasoning stream as message and thought chunks, one message per agent step", () => {
    const updates = translateAll([
      { type: "agent.text.delta", agentId: "a1", data: { step: 1, text: "Reading " } },
      { type: "agent.text.delta", agentId: "a1", data: { step: 1, text: "the file." } },
      { type: "agent.reasoning.delta", agentId: "a1", data: { step: 2, text: "The month is off." } },
    ]);
    assert.deepEqual(
      updates.map((u) =>
        u.sessionUpdate === "agent_message_chunk" || u.sessionUpdate === "agent_thought_chunk"
          ? [u.sessionUpdate, u.messageId, u.content.type === "text" && u.content.text]
          : [],
      ),
      [
        ["agent_message_chunk", "a1:1", "Reading "],
        ["agent_message_chunk", "a1:1", "the file."],
        ["agent_thought_chunk", "a1:2:thought", "The month is off."],
      ],
    );
  });

  it("the plan checkpoint is a tool call of its own; who answered shows, and the approval maps to it", () => {
    const translator = new UpdateTranslator(REPO);
    const events = log([
      {
        type: "approval.requested",
        data: { approvalId: "ap1", tool: "plan", args: {}, risk: "read", reason: "approve the plan" },
      },
      { type: "approval.resolved", data: { approvalId: "ap1", decision: "approve", by: "dashboard" } },
      {
        type: "approval.requested",
        data: {
          approvalId: "ap2",
          callId: "c9",
          tool: "run_command",
          args: { command: "npm test" },
          risk: "execute",
          reason: "ask-risky",
        },
      },
    ]);
    const updates = events.flatMap((e) => translator.translate(e));
    assert.deepEqual(
      updates.map((u) =>
        u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update" ? u.status : "",
      ),
      ["pending", "completed"],
    );
    const answered = updates[1];
    assert.ok(answered?.sessionUpdate === "tool_call_update");
    assert.deepEqual(answered.content, [
      { type: "content", content: { type: "text", text: "Approved by dashboard" } },
    ]);
    assert.equal(translator.toolCallIdOf("ap1"), "ap1");
    assert.equal(translator.toolCallIdOf("ap2"), "c9", "an approval of a call asks about that call");
  });

  it("messages from other clients show as the user's; the editor's own are not echoed", () => {
    const updates = translateAll([
      {
        type: "intervention.received",
        data: { interventionId: "i1", message: "use padStart", interrupt: false, by: "dashboard" },
      },
      {
        type: "intervention.received",
        data: { interventionId: "i2", message: "and the day too", interrupt: false, by: "acp" },
      },
    ]);
    assert.deepEqual(updates, [
      {
        sessionUpdate: "user_message_chunk",
        content: { type: "text", text: "[dashboard] use padStart" },
        messageId: "evt_0",
      },
    ]);
  });

  it("translates every sample event without throwing, and only into known update kinds", () => {
    const translator = new UpdateTranslator(REPO);
    const kinds = new Set(sampleLog().flatMap((e) => translator.translate(e).map((u) => u.sessionUpdate)));
    for (const kind of kinds) {
      assert.ok(
        [
          "agent_message_chunk",
          "agent_thought_chunk",
          "user_message_chunk",
          "tool_call",
          "tool_call_update",
          "plan",
        ].includes(kind),
        kind,
      );
    }
    assert.ok(kinds.has("tool_call") && kinds.has("plan") && kinds.has("agent_message_chunk"));
  });
});
