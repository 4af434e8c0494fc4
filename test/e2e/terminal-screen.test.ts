import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { api, eventually } from "../helpers/api.ts";
import { cliEnv, cliInScript, fakeModelFlags, makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";

/**
 * What a new user sees in a real terminal (a pty from util-linux `script`) during a run that asks before
 * a command and then gives up (issue 14): the approval question shown whole without typing anything and
 * drawn again below output that arrives while it waits; each step's own tokens told from the run's total;
 * one word for the outcome and hints that fit a run that changed nothing.
 */
describe("entourage run in a terminal: the screen a new user reads", {
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
        {
          text: "Let me run the tests.",
          toolCalls: [{ name: "run_command", arguments: { command: "echo screen-ok" } }],
          usage: { inputTokens: 1_200, outputTokens: 310 },
        },
        {
          expectMessageContains: ["screen-ok", "Mind the fixtures"],
          toolCalls: [
            {
              name: "finish",
              arguments: { status: "blocked", summary: "The spec is missing.", files_changed: [] },
            },
          ],
          usage: { inputTokens: 1_500, outputTokens: 90 },
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

  it("keeps the approval question on screen, tells step from run tokens, and ends blocked with fitting hints", async () => {
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
    const prompt = "? allow run_command echo screen-ok [execute]  [y]es / [n]o / [a]lways: ";
    let message = -1;
    try {
      // Nothing typed yet: the whole question, choices included, is on screen.
      await eventually(() => (out.includes(prompt) ? true : undefined), "the approval prompt");
      const url = /api (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const runId = /run (run_\w+)/.exec(out)?.[1];
      assert.ok(url && runId, out);
      // Output while the question waits: a message from another client, printed above the question.
      const sent = await api(url, `/runs/${runId}/interventions`, { body: { message: "Mind the fixtures" } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await eventually(() => {
        message = out.indexOf("Mind the fixtures");
        return message >= 0 && out.indexOf(prompt, message) > message ? true : undefined;
      }, "the question drawn again below the message");
      child.stdin.write("y\r");
      const code = await done;
      assert.equal(code, 1, out);
    } finally {
      stop();
    }
    assert.deepEqual(model.failures, []);
    assert.match(out, /step 1 · 1\.2k in · 310 out · cost unknown {2}\(run so far: 1\.2k in · 310 out/);
    assert.match(out, /step 2 · 1\.5k in · 90 out · cost unknown {2}\(run so far: 2\.7k in · 400 out/);
    const end = out.slice(out.indexOf("general finished"));
    assert.match(end, /general finished: blocked/);
    assert.match(end, /✘ blocked in /);
    assert.doesNotMatch(end, /failed|entourage diff|entourage apply/);
    assert.match(
      end,
      /next: entourage show run_\w+ \(why\) {2}· {2}entourage fork run_\w+ "<guidance>" \(try again\)/,
    );
  });
});
