import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { eventually } from "../helpers/api.ts";
import { cliEnv, cliInScript, fakeModelFlags, makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";
import { dbEvents } from "./support.ts";

/**
 * `run` in a real terminal (a pty from util-linux `script`): one line reader for the whole run takes a
 * typed line as a message for the agent and, when the approval prompt is shown, the answer to it.
 */
describe("entourage run in a terminal: typing steers the run and answers its prompt", {
  skip: !existsSync("/usr/bin/script") && "needs util-linux script for a pty",
}, () => {
  let home: string;
  let repo: string;
  let model: FakeModelServer;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    model = await startFakeModelServer({
      scenario: [
        { delayMs: 2000, text: "Looking around.", toolCalls: [{ name: "list_files", arguments: {} }] },
        {
          expectMessageContains: ["[Message from the user] Mind the tests"],
          toolCalls: [{ name: "run_command", arguments: { command: "echo tty-ok" } }],
        },
        {
          expectMessageContains: ["tty-ok"],
          toolCalls: [
            { name: "finish", arguments: { status: "done", summary: "Checked.", files_changed: [] } },
          ],
        },
        { name: "lesson draft", text: "none" },
      ],
    });
  });

  after(async () => {
    await model.close();
    removeDir(home);
    removeDir(repo);
  });

  it("a typed line reaches the model and y at the prompt approves the command", async () => {
    let out = "";
    const { child, done, stop } = cliInScript(
      [
        "run",
        "Check the project",
        "--repo",
        repo,
        ...fakeModelFlags(model),
        "--mode",
        "single",
        "--sandbox",
        "subprocess",
      ],
      cliEnv(home),
      (d) => (out += d),
    );
    try {
      await eventually(() => (out.includes("keys:") ? true : undefined), "the keys line");
      child.stdin.write("Mind the tests\r");
      await eventually(() => (out.includes("? allow run_command") ? true : undefined), "the approval prompt");
      child.stdin.write("y\r");
      const code = await done;
      assert.equal(code, 0, out);
    } finally {
      stop();
    }
    assert.deepEqual(model.failures, []);
    assert.match(out, /api http:\/\/127\.0\.0\.1:\d+/);
    const runId = /run (run_\w+)/.exec(out)?.[1];
    assert.ok(runId);
    const log = dbEvents(home, runId);
    assert.deepEqual(
      log.filter((e) => e.type === "intervention.received").map((e) => [e.data.by, e.data.message]),
      [["cli", "Mind the tests"]],
    );
    assert.equal(log.find((e) => e.type === "approval.resolved")?.data.by, "cli");
  });
});
