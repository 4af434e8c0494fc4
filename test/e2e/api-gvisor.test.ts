import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createGvisorBackend } from "../../src/sandbox/backends/index.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { api, eventually, type LiveCli, startCli } from "../helpers/api.ts";
import { cliEnv, makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { dbEvents } from "./support.ts";

/**
 * `"sandbox": "gvisor"` in `POST /runs`: the run's commands run on gVisor's kernel (its boot lines in the
 * kernel log, its own kernel version), and the run says gvisor in its log and in the API's view of it.
 */
describe("a run on gvisor started over the API", () => {
  let home: string | undefined;
  let repo: string | undefined;
  let model: FakeModelServer | undefined;
  let serve: LiveCli | undefined;

  after(async () => {
    if (serve && serve.child.exitCode === null) serve.child.kill("SIGKILL");
    await model?.close();
    if (home) removeDir(home);
    if (repo) removeDir(repo);
  });

  it("runs its commands on gVisor and is shown as gvisor", async (t) => {
    const probe = await createGvisorBackend().probe();
    if (!probe.available) {
      missingDependency(t, `gvisor unavailable: ${probe.reason}`);
      return;
    }
    home = tempDir("home");
    repo = makeSampleRepo();
    model = await startFakeModelServer({
      scenario: [
        {
          toolCalls: [{ name: "run_command", arguments: { command: "uname -r; dmesg | head -1; ls -d /" } }],
        },
        {
          expectMessageContains: ["Starting gVisor"],
          toolCalls: [
            { name: "finish", arguments: { status: "done", summary: "Checked.", files_changed: [] } },
          ],
        },
        { name: "lesson draft", text: "none" },
      ],
    });
    serve = await startCli(["serve", "--port", "0"], {
      env: cliEnv(home),
      urlPattern: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    });
    const url = serve.url;
    const created = await api<{ runId: string }>(url, "/runs", {
      body: {
        task: "Which kernel runs the commands?",
        repo,
        mode: "single",
        approval: "auto",
        sandbox: "gvisor",
        image: "base",
        verify: false,
        provider: "openai-compatible",
        baseUrl: model.baseUrl,
        model: "fake-coder",
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { runId } = created.body;
    let last = "";
    const shown = await eventually(async () => {
      const { body } = await api<{ run: { status: string; sandbox?: { backend?: string } } }>(
        url,
        `/runs/${runId}`,
      );
      last = JSON.stringify(body).slice(0, 2000);
      return body.run.status === "succeeded" ? body.run : undefined;
    }, "the run to succeed").catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${last}; serve: ${serve?.stdout()}`);
    });
    assert.equal(shown.sandbox?.backend, "gvisor", JSON.stringify(shown.sandbox));
    serve.child.kill("SIGINT");
    await serve.done;

    const log = dbEvents(home, runId);
    const createdEvent = log.find((e) => e.type === "run.created")?.data as { sandbox: { backend: string } };
    assert.equal(createdEvent.sandbox.backend, "gvisor");
    const output = String(log.find((e) => e.type === "tool.call.ended")?.data.output);
    assert.match(output, /^4\.4\.0$/m, output);
    assert.match(output, /Starting gVisor/);
    assert.match(output, /^\/$/m, "ls works (the statx shim)");
    assert.deepEqual(model.failures, []);
  });
});
