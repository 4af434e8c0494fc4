/**
 * `entourage acp` driven as an editor drives it: the ACP SDK's client side over the built CLI's stdin/stdout,
 * the fake model server behind it. Each session is an Entourage run: the editor sees its messages, tool calls
 * with their statuses and diffs, the plan; answers its approvals (or another client does first); cancels it;
 * sends a follow-up; applies the result. The same run is watched over the HTTP API and `entourage show`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { methods, type SessionUpdate } from "@agentclientprotocol/sdk";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { api, eventually } from "../helpers/api.ts";
import { BIN, cliEnv, makeSampleRepo, ROOT, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import {
  allow,
  type Editor,
  messageText,
  promptTurn,
  runIdOf,
  startEditor,
  statusesOf,
} from "./acp-editor.ts";
import { dbEvents, editTurn, FIXED_LINE, finishTurn, readTurn } from "./support.ts";

describe("entourage acp: an editor drives Entourage runs over the Agent Client Protocol", () => {
  let home: string;
  let repo: string;
  let server: FakeModelServer | undefined;
  let editor: Editor | undefined;

  beforeEach(() => {
    home = tempDir("acp-home");
    repo = makeSampleRepo();
  });

  afterEach(async () => {
    if (editor) {
      editor.connection.close();
      if (editor.child.exitCode === null) editor.child.kill("SIGKILL");
      await editor.exited;
    }
    editor = undefined;
    await server?.close();
    server = undefined;
    removeDir(home);
    removeDir(repo);
  });

  it("a pipeline run: messages, the plan, tool calls with statuses and a diff, approvals answered in the editor; the API, show and attach see the same run live", async () => {
    server = await startFakeModelServer({ scenario: join(ROOT, "demo", "pipeline.scenario.json") });
    editor = startEditor(home, server, ["--mode", "pipeline", "--approval", "ask-risky"]);
    const live = editor;
    const seenLive: {
      apiStatus?: string;
      pending?: string[];
      show?: string;
      announced?: { runId?: string; url: string }[];
    } = {};
    const updatesSoFar: SessionUpdate[] = [];
    let attached: ReturnType<typeof runCli> | undefined;
    live.onPermission = async (request) => {
      if (seenLive.show === undefined) {
        // While the editor is asked, the run waits, and the other clients see exactly that.
        const runId = /run_\w+/.exec(messageText(updatesSoFar))?.[0] ?? "";
        const detail = await api<{ run: { status: string }; pendingApprovals: { tool: string }[] }>(
          await live.apiUrl(),
          `/runs/${runId}`,
        );
        seenLive.apiStatus = detail.body.run.status;
        seenLive.pending = detail.body.pendingApprovals.map((p) => p.tool);
        seenLive.show = (await runCli(["show", runId], { env: cliEnv(home) })).stdout;
        // `entourage attach` finds the run's server by itself and follows it to its end.
        attached = runCli(["attach", runId], { env: cliEnv(home), timeoutMs: 120_000 });
        // Announced as this process's server, which is how `entourage attach <run>` finds it.
        seenLive.announced = readdirSync(join(home, "servers")).map(
          (f) =>
            JSON.parse(readFileSync(join(home, "servers", f), "utf8")) as { runId?: string; url: string },
        );
      }
      // The plan once; `npm test` always (the rule is saved and binds the later testers).
      return allow(request.options.some((o) => o.kind === "allow_always") ? "allow_always" : "allow_once");
    };
    const init = await live.connection.agent.request(methods.agent.initialize, {
      protocolVersion: 1,
      clientCapabilities: {},
    });
    assert.equal(init.protocolVersion, 1);
    assert.equal(init.agentCapabilities?.loadSession, false);
    assert.equal(init.agentCapabilities?.promptCapabilities?.image, false);

    const session = await live.connection.agent.buildSession(repo).start();
    const response = session.prompt("Fix the failing tests in src/date.js");
    let stopReason = "";
    for (;;) {
      const next = await session.nextUpdate();
      if (next.kind === "stop") {
        stopReason = next.stopReason;
        break;
      }
      updatesSoFar.push(next.update);
    }
    await response;
    const updates = updatesSoFar;
    assert.equal(stopReason, "end_turn", live.stderr());
    assert.deepEqual(server.failures, []);
    const runId = runIdOf(updates);
    assert.ok(runId, "the editor is told the run's id");
    const commands = updates.find((u) => u.sessionUpdate === "available_commands_update");
    assert.deepEqual(
      commands?.sessionUpdate === "available_commands_update" &&
        commands.availableCommands.map((c) => c.name),
      ["apply"],
    );

    // The messages of the agents, the plan, the outcome.
    const text = messageText(updates);
    assert.match(text, /Adding 1 to the zero-based month\./);
    assert.match(text, /\*\*Run succeeded\.\*\*/);
    const plan = updates.find((u) => u.sessionUpdate === "plan");
    assert.ok(plan?.sessionUpdate === "plan" && plan.entries.length > 0, "the orchestrator's plan is shown");

    // An edit: a tool call with its diff under the checkout, pending → in_progress → completed.
    const edit = updates.find((u) => u.sessionUpdate === "tool_call" && u.kind === "edit");
    assert.ok(edit?.sessionUpdate === "tool_call");
    assert.deepEqual(statusesOf(updates, edit.toolCallId), ["pending", "in_progress", "completed"]);
    const diff = edit.content?.find((c) => c.type === "diff");
    assert.ok(diff?.type === "diff");
    assert.equal(diff.path, join(repo, "src/date.js"));
    assert.ok(diff.newText.length > 0 && diff.oldText);

    // Approvals: the plan and each `npm test` were asked in the editor and answered there.
    assert.deepEqual(
      live.asked.map((a) => a.request.toolCall.title),
      ["Approve the plan", "Run `npm test`"],
    );
    const commandCall = live.asked[1]!.request;
    assert.deepEqual(
      commandCall.options.map((o) => [o.kind, o.name]),
      [
        ["allow_once", "Allow"],
        ["allow_always", 'Always allow run_command "npm test" → allow'],
        ["reject_once", "Reject"],
      ],
    );
    const config = JSON.parse(readFileSync(join(repo, ".entourage", "config.json"), "utf8"));
    assert.deepEqual(config.approvalRules, [{ tool: "run_command", match: "npm test", action: "allow" }]);
    // The tool call the editor was asked about was shown before the question.
    assert.ok(
      updates.some(
        (u) => u.sessionUpdate === "tool_call" && u.toolCallId === commandCall.toolCall.toolCallId,
      ),
    );
    const log = dbEvents(home, runId);
    assert.deepEqual(
      log.filter((e) => e.type === "approval.resolved").map((e) => [e.data.decision, e.data.by]),
      [
        ["approve", "acp"],
        ["approve", "acp"],
      ],
    );
    assert.equal(
      log.filter((e) => e.type === "tool.call.ended" && e.data.name === "run_command").length,
      3,
      "the three test runs happened, two of them unasked",
    );

    // Seen at the same time over the API and by `entourage show`.
    assert.equal(seenLive.apiStatus, "running");
    assert.deepEqual(seenLive.pending, ["plan"]);
    assert.match(seenLive.show ?? "", /Fix the failing tests in src\/date\.js/);
    const attach = await attached!;
    assert.equal(attach.code, 0, attach.stderr);
    assert.match(attach.stdout, /Adding 1 to the zero-based month/);
    assert.deepEqual(seenLive.announced, [{ ...seenLive.announced?.[0], runId, url: await live.apiUrl() }]);
    // The editor's stdout carried nothing but JSON-RPC (the SDK would have failed on a stray line).
    assert.doesNotMatch(live.stderr(), /^\s+at .+[:(]/m);
  });
});

describe("entourage acp: approvals, cancel, follow-up and /apply", () => {
  let home: string;
  let repo: string;
  let server: FakeModelServer | undefined;
  let editor: Editor | undefined;

  beforeEach(() => {
    home = tempDir("acp-home");
    repo = makeSampleRepo();
  });

  afterEach(async () => {
    if (editor) {
      editor.connection.close();
      if (editor.child.exitCode === null) editor.child.kill("SIGKILL");
      await editor.exited;
    }
    editor = undefined;
    await server?.close();
    server = undefined;
    removeDir(home);
    removeDir(repo);
  });

  const testTurn = { name: "test", toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }] };

  async function session(flags: string[] = ["--mode", "single", "--approval", "ask-risky"]) {
    editor = startEditor(home, server!, flags);
    await editor.connection.agent.request(methods.agent.initialize, {
      protocolVersion: 1,
      clientCapabilities: {},
    });
    return editor.connection.agent.buildSession(repo).start();
  }

  it("a rejected command fails its tool call; the model is told and the run goes on", async () => {
    server = await startFakeModelServer({
      scenario: [
        testTurn,
        { expectMessageContains: ["rejected in the editor"], ...finishTurn },
        // The denial is a correction: a lesson is drafted from it after the run (none here).
        { name: "lesson draft", text: "none" },
      ],
    });
    const s = await session();
    editor!.onPermission = async () => allow("reject_once");
    const turn = await promptTurn(s, "Run the tests");
    assert.equal(turn.stopReason, "end_turn", editor!.stderr());
    assert.deepEqual(server.failures, []);
    const call = turn.updates.find((u) => u.sessionUpdate === "tool_call" && u.kind === "execute");
    assert.ok(call?.sessionUpdate === "tool_call");
    assert.deepEqual(statusesOf(turn.updates, call.toolCallId), ["pending", "failed"]);
    const log = dbEvents(home, runIdOf(turn.updates)!);
    const resolved = log.filter((e) => e.type === "approval.resolved");
    assert.deepEqual(
      resolved.map((e) => [e.data.decision, e.data.by]),
      [["deny", "acp"]],
    );
  });

  it("the same approval answered over the API first wins; the editor's question is withdrawn and its late answer ignored", async () => {
    server = await startFakeModelServer({ scenario: [testTurn, finishTurn] });
    const s = await session();
    const live = editor!;
    let runId = "";
    live.onPermission = async (_request, signal) => {
      const url = await live.apiUrl();
      const pending = await eventually(async () => {
        const runs = await api<{ runs: { runId: string }[] }>(url, "/runs");
        runId = runs.body.runs[0]?.runId ?? "";
        if (!runId) return undefined;
        const detail = await api<{ pendingApprovals: { approvalId: string }[] }>(url, `/runs/${runId}`);
        return detail.body.pendingApprovals[0];
      }, "the approval over the API");
      const answered = await api(url, `/runs/${runId}/approvals/${pending.approvalId}`, {
        body: { decision: "approve" },
      });
      assert.equal(answered.status, 200);
      // The agent withdraws the editor's question ($/cancel_request); the editor answers anyway, late.
      await new Promise<void>((resolve) =>
        signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      return allow("reject_once");
    };
    const turn = await promptTurn(s, "Run the tests");
    assert.equal(turn.stopReason, "end_turn", live.stderr());
    assert.deepEqual(server.failures, []);
    assert.equal(live.asked.length, 1);
    assert.equal(live.asked[0]!.withdrawn, true);
    const log = dbEvents(home, runId);
    assert.deepEqual(
      log.filter((e) => e.type === "approval.resolved").map((e) => [e.data.decision, e.data.by]),
      [["approve", "api"]],
    );
    const ran = log.find((e) => e.type === "tool.call.ended" && e.data.name === "run_command");
    assert.equal(ran?.data.skipped, undefined, "the command ran: the API's approval won");
    const call = turn.updates.find((u) => u.sessionUpdate === "tool_call" && u.kind === "execute");
    assert.ok(call?.sessionUpdate === "tool_call");
    assert.equal(statusesOf(turn.updates, call.toolCallId).at(0), "pending");
    assert.equal(statusesOf(turn.updates, call.toolCallId).at(1), "in_progress");
    // The acp process is still serving: a late answer broke nothing.
    assert.equal(live.child.exitCode, null);
    assert.doesNotMatch(live.stderr(), /^\s+at .+[:(]/m);
  });

  it("a prompt while the run works is a message to it, read at the agent's next step; both turns end with the run", async () => {
    server = await startFakeModelServer({
      scenario: [
        testTurn,
        { name: "after the message", expectMessageContains: ["Also check the day"], ...finishTurn },
        // The message is a correction: a lesson is drafted from it after the run (none here).
        { name: "lesson draft", text: "none" },
      ],
    });
    const s = await session();
    const live = editor!;
    let second: Promise<unknown> | undefined;
    let runId = "";
    live.onPermission = async () => {
      // The person types again while the command waits for approval.
      second = s.prompt("Also check the day");
      await eventually(
        () => dbEvents(home, runId).find((e) => e.type === "intervention.received"),
        "the message in the run's log",
      );
      return allow();
    };
    const first = s.prompt("Run the tests");
    const updates: SessionUpdate[] = [];
    const stops: string[] = [];
    while (stops.length < 2) {
      const next = await s.nextUpdate();
      if (next.kind === "stop") stops.push(next.stopReason);
      else {
        updates.push(next.update);
        runId ||= runIdOf(updates) ?? "";
      }
    }
    await first;
    await second;
    assert.deepEqual(stops, ["end_turn", "end_turn"], live.stderr());
    assert.deepEqual(server.failures, []);
    const log = dbEvents(home, runId);
    const received = log.find((e) => e.type === "intervention.received");
    assert.equal(received?.data.by, "acp");
    assert.ok(log.some((e) => e.type === "intervention.delivered"));
    // The editor's own message is not echoed back to it.
    assert.ok(!updates.some((u) => u.sessionUpdate === "user_message_chunk"));
  });

  it("two prompts at once make one run: the second joins it as a message", async () => {
    server = await startFakeModelServer({
      scenario: [
        testTurn,
        { name: "finish", expectMessageContains: ["and pad the day"], ...finishTurn },
        { name: "lesson draft", text: "none" },
      ],
    });
    const s = await session();
    // The command waits for approval until the second prompt is in the run's log, wherever it arrived
    // (while the run was being composed or once it was driven), so the agent reads it at its next step.
    editor!.onPermission = async () => {
      await eventually(() => {
        const [run] = JSON.parse(
          execFileSync(process.execPath, [BIN, "runs", "--json"], { env: cliEnv(home) }).toString(),
        ) as { runId: string }[];
        return run && dbEvents(home, run.runId).find((e) => e.type === "intervention.received");
      }, "the second prompt in the log");
      return allow();
    };
    const [a, b] = await Promise.all([s.prompt("Run the tests"), s.prompt("and pad the day")]);
    assert.deepEqual([a.stopReason, b.stopReason], ["end_turn", "end_turn"], editor!.stderr());
    assert.deepEqual(server.failures, []);
    const runs = JSON.parse((await runCli(["runs", "--json"], { env: cliEnv(home) })).stdout) as unknown[];
    assert.equal(runs.length, 1);
  });

  it("cancel mid-run ends the turn cancelled; a follow-up reopens the same run; /apply writes it to the checkout", async () => {
    server = await startFakeModelServer({
      scenario: [
        readTurn,
        testTurn,
        // The follow-up: a new agent told the first request, how it ended, and the new one.
        {
          name: "follow-up read",
          expectMessageContains: ["Check the date helper", "It ended cancelled", "Now fix the month"],
          ...readTurn,
        },
        editTurn,
        finishTurn,
      ],
    });
    const s = await session();
    const live = editor!;
    live.onPermission = async (_request, signal) => {
      // The person presses stop while the command waits for approval; an editor answers `cancelled` then.
      await live.connection.agent.notify(methods.agent.session.cancel, { sessionId: s.sessionId });
      await new Promise<void>((resolve) =>
        signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      return { outcome: { outcome: "cancelled" } };
    };
    const first = await promptTurn(s, "Check the date helper");
    assert.equal(first.stopReason, "cancelled", live.stderr());
    const runId = runIdOf(first.updates)!;
    assert.match(messageText(first.updates), /\*\*Run cancelled\.\*\*/);

    live.onPermission = async () => allow();
    const second = await promptTurn(s, "Now fix the month in formatISODate");
    assert.equal(second.stopReason, "end_turn", live.stderr());
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    assert.equal(runIdOf(second.updates), undefined, "no new run: the same one went on");
    assert.match(messageText(second.updates), /\*\*Run succeeded\.\*\*/);
    const log = dbEvents(home, runId);
    assert.deepEqual(
      log.filter((e) => e.type === "run.finished").map((e) => e.data.status),
      ["cancelled", "succeeded"],
    );
    assert.equal(
      log.find((e) => e.type === "run.reopened")?.data.request,
      "Now fix the month in formatISODate",
    );

    // The checkout is untouched until /apply.
    assert.doesNotMatch(readFileSync(join(repo, "src/date.js"), "utf8"), /padStart/);
    const applied = await promptTurn(s, "/apply");
    assert.equal(applied.stopReason, "end_turn");
    assert.match(messageText(applied.updates), /Applied 1 file\(s\)/);
    assert.match(
      readFileSync(join(repo, "src/date.js"), "utf8"),
      new RegExp(FIXED_LINE.replace(/[()[\]{}.*+?^$|\\]/g, "\\$&")),
    );
  });
});

describe("entourage acp: bad input and the end of the connection", () => {
  it("refuses a cwd that is no directory and content it does not take, with messages; exits 0 when the editor closes", async () => {
    const home = tempDir("acp-home");
    const repo = makeSampleRepo();
    const server = await startFakeModelServer({ scenario: [] });
    const editor = startEditor(home, server, []);
    try {
      await editor.connection.agent.request(methods.agent.initialize, {
        protocolVersion: 1,
        clientCapabilities: {},
      });
      await assert.rejects(
        editor.connection.agent.request(methods.agent.session.new, { cwd: "relative/dir", mcpServers: [] }),
        /cwd must be the absolute path of an existing directory/,
      );
      const session = await editor.connection.agent.buildSession(repo).start();
      await assert.rejects(
        session.prompt({ type: "image", data: "aGk=", mimeType: "image/png" }),
        /not image content/,
      );
      await assert.rejects(
        editor.connection.agent.request(methods.agent.session.prompt, {
          sessionId: "sess_nope",
          prompt: [{ type: "text", text: "hi" }],
        }),
        /sess_nope/,
      );
      assert.equal(server.requests.length, 0, "no model was called");
      editor.connection.close();
      assert.equal(await editor.exited, 0, editor.stderr());
      assert.match(editor.stderr(), /the editor closed the connection/);
    } finally {
      if (editor.child.exitCode === null) editor.child.kill("SIGKILL");
      await server.close();
      removeDir(home);
      removeDir(repo);
    }
  });

  it("the editor going away mid-run leaves the run paused and resumable", async () => {
    const home = tempDir("acp-home");
    const repo = makeSampleRepo();
    const server = await startFakeModelServer({
      scenario: [{ name: "test", toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }] }],
    });
    const editor = startEditor(home, server, ["--mode", "single", "--approval", "ask-risky"]);
    try {
      await editor.connection.agent.request(methods.agent.initialize, {
        protocolVersion: 1,
        clientCapabilities: {},
      });
      const session = await editor.connection.agent.buildSession(repo).start();
      const asked = Promise.withResolvers<void>();
      // The editor is closed while the command waits for approval: it never answers.
      editor.onPermission = () => {
        asked.resolve();
        return new Promise(() => {});
      };
      session.prompt("Run the tests").catch(() => {});
      await asked.promise;
      // The editor quits: its end of the agent's stdin closes.
      editor.child.stdin.end();
      assert.equal(await editor.exited, 0, editor.stderr());
      const runs = await runCli(["runs", "--json"], { env: cliEnv(home) });
      const [run] = JSON.parse(runs.stdout) as { runId: string; status: string }[];
      assert.equal(run?.status, "paused");
      const last = dbEvents(home, run.runId).findLast((e) => e.type === "run.status");
      assert.match(String(last?.data.reason), /entourage resume/);
    } finally {
      if (editor.child.exitCode === null) editor.child.kill("SIGKILL");
      await server.close();
      removeDir(home);
      removeDir(repo);
    }
  });
});
