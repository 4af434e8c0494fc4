import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/index.ts";
import { cliEnv, cliInScript, fakeModelFlags, makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";
import { type Browser, browserMissing, launchBrowser, screenshot, waitFor } from "./dashboard-support.ts";

/**
 * Steering a live CLI run from the dashboard (issue 14): `entourage run` on a real terminal (a pty from
 * util-linux `script`) serves its own API and dashboard; a person on the page approves, denies with a
 * reason, sends a message, redirects, pauses, resumes and cancels, and each act shows in the run's own
 * terminal. The model is the fake model server; the browser is Debian's Chromium.
 */

const skip =
  browserMissing() ?? (!existsSync("/usr/bin/script") ? "needs util-linux script for a pty" : undefined);

const words = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i} `).join("");
const readSample = { name: "read_file", arguments: { path: "src/date.js" } };

describe("the dashboard steers a run started in a terminal", { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  let home: string;
  let repo: string;
  let model: FakeModelServer;

  before(async () => {
    browser = await launchBrowser();
    home = tempDir("home");
    repo = makeSampleRepo();
    model = await startFakeModelServer({
      scenario: [
        {
          name: "approve me",
          toolCalls: [{ name: "run_command", arguments: { command: "echo first-marker" } }],
        },
        {
          name: "deny me",
          expectMessageContains: ["first-marker"],
          toolCalls: [{ name: "run_command", arguments: { command: "rm -rf node_modules" } }],
        },
        {
          name: "message me",
          expectMessageContains: ["keep node_modules, it is vendored"],
          text: words(60, "slowword"),
          chunkDelayMs: 100,
          toolCalls: [readSample],
        },
        {
          name: "redirect me",
          expectMessageContains: ["Mind the UTC offset"],
          delayMs: 60_000,
          text: "An answer the redirect cuts off.",
        },
        {
          name: "pause me",
          expectMessageContains: ["Start over: look at the tests first"],
          text: words(40, "pauseword"),
          chunkDelayMs: 100,
          toolCalls: [readSample],
        },
        { name: "cancel me", delayMs: 60_000, text: "An answer the cancel cuts off." },
        // After the run, one lesson draft per correction (the denial, the message, the redirect).
        { name: "draft-1", text: "none" },
        { name: "draft-2", text: "none" },
        { name: "draft-3", text: "none" },
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await model?.close();
    removeDir(home);
    removeDir(repo);
  });

  it("approve, deny with a reason, message, redirect, pause, resume and cancel, each shown in the terminal", async () => {
    let out = "";
    const { done, stop } = cliInScript(
      [
        "run",
        "Fix the date helper",
        "--repo",
        repo,
        ...fakeModelFlags(model),
        "--mode",
        "single",
        "--sandbox",
        "subprocess",
        "--approval",
        "ask-risky",
      ],
      cliEnv(home),
      (d) => (out += d),
    );
    // What the run's terminal shows after `from`: waits until `text` appears there, returns where.
    const terminal = (text: string, from = 0) =>
      waitFor(`the terminal to show "${text}"`, () => {
        const at = out.indexOf(text, from);
        return at >= 0 ? at + 1 : undefined;
      }).then(
        (at) => at - 1,
        (error: Error) => {
          throw new Error(`${error.message}; the terminal since the last step:\n${out.slice(from)}`);
        },
      );
    const { page } = browser;
    try {
      const login = await waitFor(
        "the dashboard link",
        () => /dashboard (http:\/\/\S+\/\?login=\S+)/.exec(out)?.[1],
      );
      const runId = await waitFor("the run id", () => /run (run_\w+)/.exec(out)?.[1]);
      const base = new URL(login).origin;
      await page.goto(login);
      await page.waitForURL(`${base}/`);
      await page.goto(`${base}/runs/${runId}`);

      // Approve: the card on the page; the terminal's own question says it was answered elsewhere.
      const card = page.getByTestId("approval");
      await card.getByText("echo first-marker").waitFor({ timeout: 20_000 });
      let at = await terminal("? allow run_command echo first-marker");
      for (const [name, width, height] of [
        ["dashboard-cli-approval-desktop.png", 1280, 800],
        ["dashboard-cli-approval-phone.png", 390, 844],
      ] as const) {
        await page.setViewportSize({ width, height });
        await card.scrollIntoViewIfNeeded();
        await screenshot(page, name);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.equal(overflow, 0, `nothing sticks out sideways at ${width} px`);
        const approve = await card.getByRole("button", { name: "Approve" }).boundingBox();
        assert.ok(
          approve && approve.x >= 0 && approve.x + approve.width <= width,
          `Approve on screen at ${width} px`,
        );
      }
      await page.setViewportSize({ width: 1280, height: 800 });
      await card.getByRole("button", { name: "Approve" }).click();
      at = await terminal("(answered elsewhere)", at);
      at = await terminal("✓ approved by dashboard", at);
      at = await terminal("first-marker", at);

      // Deny, with a reason: the terminal shows who and why.
      await card.getByText("rm -rf node_modules").waitFor({ timeout: 20_000 });
      await card.getByRole("button", { name: "Deny…" }).click();
      await card.getByLabel("Reason (the model reads it)").fill("keep node_modules, it is vendored");
      await card.getByRole("button", { name: "Deny", exact: true }).click();
      at = await terminal("✗ denied by dashboard: keep node_modules, it is vendored", at);

      // A message while the answer streams, delivered at the agent's next step.
      await page.getByText("slowword3 ").first().waitFor({ timeout: 20_000 });
      const box = page.getByLabel("Message", { exact: true });
      await box.fill("Mind the UTC offset");
      await page.getByRole("button", { name: "Send at next step" }).click();
      at = await terminal("✉ message from dashboard: Mind the UTC offset", at);
      at = await terminal("✉ delivered to general", at);

      // Redirect while the next answer hangs: the agent is stopped, a fresh one starts with the message.
      await waitFor("the fourth model call", () => model.requests.length >= 4);
      await box.fill("Start over: look at the tests first");
      await page.getByRole("button", { name: "Redirect" }).click();
      at = await terminal(
        "✉ message from dashboard (redirect: restart the phase): Start over: look at the tests first",
        at,
      );

      // Pause while the fresh agent's answer streams; the terminal says so; resume from the page too.
      await page.getByText("pauseword3 ").first().waitFor({ timeout: 20_000 });
      await page.getByRole("button", { name: "Pause" }).click();
      at = await terminal("⏸ paused by dashboard", at);
      await page.locator('.run-page[data-status="paused"]').waitFor({ timeout: 20_000 });
      await page.getByRole("button", { name: "Resume" }).click();
      at = await terminal("▶ resumed by dashboard", at);

      // Cancel (asked twice on the page) while the last answer hangs: the run ends cancelled.
      await waitFor("the sixth model call", () => model.requests.length >= 6);
      await page.getByRole("button", { name: "Cancel run" }).click();
      await page.getByRole("button", { name: "Confirm: cancel the run" }).click();
      at = await terminal("cancelled", at);
      await page.locator('.run-page[data-status="cancelled"]').waitFor({ timeout: 20_000 });
      const code = await done;
      assert.notEqual(code, 0, out.slice(-3000));
    } finally {
      stop();
    }
    assert.deepEqual(model.failures, []);
  });
});
