import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { api, eventually, type LiveCli, startCli } from "../helpers/api.ts";
import { cliEnv, makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";
import { dbEvents } from "./support.ts";

/**
 * One engine, many clients: `entourage serve` starts a run over the API; `entourage attach` (another
 * process, no terminal) renders it from the SSE stream, sends a typed line as an intervention and
 * answers the approval prompt with "y"; curl-like requests watch the same run.
 */
describe("entourage serve + entourage attach", () => {
  let home: string;
  let repo: string;
  let model: FakeModelServer;
  let serve: LiveCli | undefined;
  let attach: LiveCli | undefined;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    model = await startFakeModelServer({
      scenario: [
        { delayMs: 2500, text: "Looking around.", toolCalls: [{ name: "list_files", arguments: {} }] },
        {
          expectMessageContains: ["[Message from the user] Mind the time zone"],
          toolCalls: [{ name: "run_command", arguments: { command: "echo via-serve" } }],
        },
        {
          expectMessageContains: ["via-serve"],
          toolCalls: [
            { name: "finish", arguments: { status: "done", summary: "Checked.", files_changed: [] } },
          ],
        },
        { name: "lesson draft", text: "none" },
      ],
    });
  });

  after(async () => {
    for (const p of [attach, serve]) if (p && p.child.exitCode === null) p.child.kill("SIGKILL");
    await model.close();
    removeDir(home);
    removeDir(repo);
  });

  it("runs a task started over the API, steered and approved from an attached terminal client", async () => {
    serve = await startCli(["serve", "--port", "0"], {
      env: cliEnv(home),
      urlPattern: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    });
    const url = serve.url;
    assert.equal((await api(url, "/health")).status, 200);
    const created = await api<{ runId: string }>(url, "/runs", {
      body: {
        task: "Check the project",
        repo,
        mode: "single",
        sandbox: "subprocess",
        provider: "openai-compatible",
        baseUrl: model.baseUrl,
        model: "fake-coder",
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { runId } = created.body;

    attach = await startCli(["attach", runId, "--url", url], {
      env: cliEnv(home),
      urlPattern: /attached to \S+ at (http:\S+)/,
    });
    const a = attach;
    // A typed line is a message for the agent's next step.
    a.write("Mind the time zone\n");
    await eventually(
      () => (a.stdout().includes("? allow run_command") ? true : undefined),
      "attach's approval prompt",
    );
    a.write("y\n");
    const result = await a.done;
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /task Check the project/);
    assert.match(result.stdout, /message from api: Mind the time zone/);
    assert.match(result.stdout, /approved by attach/);
    assert.match(result.stdout, /succeeded/);
    assert.deepEqual(model.failures, []);

    const listed = await eventually(async () => {
      const { body } = await api<{ runs: { runId: string; status: string; live: boolean }[] }>(url, "/runs");
      const run = body.runs.find((r) => r.runId === runId);
      return run && !run.live ? run : undefined;
    }, "the run to end");
    assert.equal(listed.status, "succeeded");

    serve.child.kill("SIGINT");
    const stopped = await serve.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    const log = dbEvents(home, runId);
    assert.equal(log.find((e) => e.type === "approval.resolved")?.data.by, "attach");
    assert.equal(log.find((e) => e.type === "intervention.received")?.data.by, "api");
  });
});
