import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, type FakeTurn, startFakeModelServer } from "../fake-llm/index.ts";
import { makeSampleRepo, removeDir, tempDir } from "../helpers/cli.ts";
import {
  apiCall,
  type Browser,
  browserMissing,
  fakeModelEnv,
  launchBrowser,
  type Serve,
  screenshot,
  signIn,
  startServe,
  waitFor,
} from "./dashboard-support.ts";
import { editTurn, FIXED_LINE, finishTurn, readTurn } from "./support.ts";

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real server
 * (`entourage serve`, the built CLI) and the fake model server. Each test gets its own model script, so
 * each starts its own server; the browser is shared.
 */

const skip = browserMissing();

const words = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i} `);

interface Setup {
  home: string;
  repo: string;
  model: FakeModelServer;
  serve: Serve;
}

async function setup(turns: FakeTurn[]): Promise<Setup> {
  const home = tempDir("dash-home");
  const repo = makeSampleRepo();
  const model = await startFakeModelServer({ scenario: { turns } });
  const serve = await startServe(home, fakeModelEnv(model.baseUrl));
  return { home, repo, model, serve };
}

async function teardown(s: Setup): Promise<void> {
  await s.serve.stop();
  await s.model.close();
  removeDir(s.home);
  removeDir(s.repo);
}

/** Every string the model was sent in one request, flattened. */
function sent(model: FakeModelServer, index: number): string {
  return JSON.stringify(model.requests[index]?.body ?? {});
}

describe("dashboard in a browser", { skip, timeout: 300_000 }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  it("signs in with the printed link (token never in the page); a run started from the form appears live and streams text while the model is still streaming", async () => {
    const s = await setup([
      { text: words(40, "streamword").join(""), chunkDelayMs: 60, toolCalls: [{ name: "read_file", arguments: { path: "src/date.js" } }] },
      finishTurn,
    ]);
    const { page } = browser;
    try {
      await signIn(page, s.serve);
      assert.equal(new URL(page.url()).search, "", "the sign-in code left the address bar");
      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
      const token = readFileSync(join(s.home, "token"), "utf8").trim();
      assert.ok(!storage.includes(token), "no token in localStorage, sessionStorage or a readable cookie");
      assert.ok(!storage.includes("entourage_session"), "the session cookie is httpOnly");

      // A second tab keeps the runs list open: the new run must appear there without a reload.
      const list = await browser.context.newPage();
      await list.goto(`${s.serve.url}/`);
      await list.getByText("No runs yet").waitFor();

      await page.getByRole("button", { name: "New run" }).click();
      await page.getByLabel("Task").fill("Fix the date helper");
      await page.getByLabel("Repository").fill(s.repo);
      await page.getByLabel("Mode").selectOption("single");
      await page.getByLabel("Approval").selectOption("auto");
      await page.getByLabel("Sandbox").selectOption("subprocess");
      await page.getByRole("button", { name: "Start run" }).click();
      await page.waitForURL(/\/runs\/run_\w+$/);
      const runId = page.url().split("/").pop()!;

      // The streaming text is on the page while the model's answer is still being sent.
      await page.getByText("streamword3 ").first().waitFor({ timeout: 15_000 });
      const shownWhileStreaming = await page.getByTestId("text-item").first().innerText();
      assert.equal(s.model.requests[0]?.ended, false, "the model was still streaming when the text showed");
      assert.doesNotMatch(shownWhileStreaming, /streamword39/);
      assert.match(shownWhileStreaming, /streaming…/);
      await page.getByText("subprocess — no isolation").first().waitFor();

      await list.locator(`tr[data-run-id="${runId}"]`).waitFor({ timeout: 10_000 });
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      await list.locator(`tr[data-run-id="${runId}"][data-status="succeeded"]`).waitFor({ timeout: 10_000 });
      const text = await page.getByTestId("text-item").first().innerText();
      assert.match(text, /streamword39/);
      assert.doesNotMatch(text, /streaming…/);
      assert.deepEqual(s.model.failures, []);
      await list.close();
    } finally {
      await teardown(s);
    }
  });

  it("a risky command waits for approval from the page (keyboard), then runs; a denial's reason reaches the model", async () => {
    const s = await setup([
      { text: "Checking the tools.", toolCalls: [{ name: "run_command", arguments: { command: "echo approved-marker" } }] },
      {
        expectMessageContains: ["approved-marker"],
        toolCalls: [{ name: "run_command", arguments: { command: "rm -rf node_modules" } }],
      },
      { expectMessageContains: ["keep node_modules, it is vendored"], ...finishTurn },
    ]);
    const { page } = browser;
    try {
      await signIn(page, s.serve);
      const { body } = await apiCall<{ runId: string }>(s.serve, s.home, "/runs", {
        task: "Run the checks",
        repo: s.repo,
        approval: "ask-risky",
      });
      await page.goto(`${s.serve.url}/runs/${body.runId}`);
      const card = page.getByTestId("approval");
      await card.waitFor({ timeout: 20_000 });
      await card.getByText("echo approved-marker").waitFor();
      // The prompt takes the focus when it appears (nobody was typing elsewhere).
      await waitFor("focus on Approve", () =>
        page.evaluate(() => document.activeElement?.textContent === "Approve"),
      );
      await screenshot(page, "dashboard-approval.png");
      await page.keyboard.press("a");
      const tool = page.locator('[data-testid="tool-item"][data-tool="run_command"]').first();
      await tool.getByTestId("tool-output").getByText("approved-marker").waitFor({ timeout: 20_000 });
      await tool.getByText("exit 0").waitFor();
      await tool.getByText("approved by dashboard").waitFor();

      // The destructive one: deny, with a reason.
      await card.getByText("rm -rf node_modules").waitFor({ timeout: 20_000 });
      await card.getByRole("button", { name: "Deny…" }).click();
      await card.getByLabel("Reason (the model reads it)").fill("keep node_modules, it is vendored");
      await card.getByRole("button", { name: "Deny", exact: true }).click();
      await page.getByText("denied by dashboard: “keep node_modules, it is vendored”").waitFor({ timeout: 20_000 });
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      assert.match(sent(s.model, 2), /keep node_modules, it is vendored/);
      assert.deepEqual(s.model.failures, []);
      const events = await apiCall<{ events: { type: string; data: { by?: string } }[] }>(s.serve, s.home, `/runs/${body.runId}/events`);
      const by = events.body.events.filter((e) => e.type === "approval.resolved").map((e) => e.data.by);
      assert.deepEqual(by, ["dashboard", "dashboard"]);
    } finally {
      await teardown(s);
    }
  });
});
