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

const words = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i} `);

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
      {
        text: words(40, "streamword").join(""),
        chunkDelayMs: 60,
        toolCalls: [{ name: "read_file", arguments: { path: "src/date.js" } }],
      },
      finishTurn,
    ]);
    const { page } = browser;
    try {
      await signIn(page, s.serve);
      assert.equal(new URL(page.url()).search, "", "the sign-in code left the address bar");
      const storage = await page.evaluate(
        () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie,
      );
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
      const sandboxes = await page.getByLabel("Sandbox").locator("option").allTextContents();
      assert.ok(
        sandboxes.includes("gVisor (docker + runsc)"),
        `the form offers gVisor: ${sandboxes.join(", ")}`,
      );
      await page.getByLabel("Sandbox").selectOption("subprocess");
      await page.getByRole("button", { name: "Start run" }).click();
      await page.waitForURL(/\/runs\/run_\w+$/);
      const runId = page.url().split("/").pop()!;

      // The streaming text is on the page while the model's answer is still being sent.
      await page.getByText("streamword3 ").first().waitFor({ timeout: 15_000 });
      const shownWhileStreaming = (await page.getByTestId("text-item").first().textContent()) ?? "";
      assert.equal(s.model.requests[0]?.ended, false, "the model was still streaming when the text showed");
      assert.doesNotMatch(shownWhileStreaming, /streamword39/);
      assert.match(shownWhileStreaming, /streaming…/);
      await page.getByText("subprocess — no isolation").first().waitFor();

      await list.locator(`tr[data-run-id="${runId}"]`).waitFor({ timeout: 10_000 });
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      await list.locator(`tr[data-run-id="${runId}"][data-status="succeeded"]`).waitFor({ timeout: 10_000 });
      const text = (await page.getByTestId("text-item").first().textContent()) ?? "";
      assert.match(text, /streamword39/);
      assert.doesNotMatch(text, /streaming…/);
      assert.deepEqual(s.model.failures, []);
      await list.close();
    } finally {
      await teardown(s);
    }
  });

  it("a risky command waits for approval from the page (keyboard), then runs; a denial's reason reaches the model; always-allow shows its rule", async () => {
    const s = await setup([
      {
        text: "Checking the tools.",
        toolCalls: [{ name: "run_command", arguments: { command: "echo approved-marker" } }],
      },
      {
        expectMessageContains: ["approved-marker"],
        toolCalls: [{ name: "run_command", arguments: { command: "rm -rf node_modules" } }],
      },
      {
        expectMessageContains: ["keep node_modules, it is vendored"],
        toolCalls: [{ name: "run_command", arguments: { command: "echo second-marker" } }],
      },
      { expectMessageContains: ["second-marker"], ...finishTurn },
      // After the run, a denial with a reason is offered to the model as a lesson to draft.
      { name: "draft-lesson", text: "none" },
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
      await page
        .getByText("denied by dashboard: “keep node_modules, it is vendored”")
        .waitFor({ timeout: 20_000 });

      // "Always allow", with the rule shown (and its pattern widened) before it is saved.
      await card.getByText("echo second-marker").waitFor({ timeout: 20_000 });
      await card.getByRole("button", { name: "Always allow…" }).click();
      assert.equal(
        (await card.getByTestId("rule-preview").textContent()) ?? "",
        'run_command "echo second-marker" → allow',
      );
      await card.getByLabel("Pattern (* matches anything)").fill("echo *");
      assert.equal(
        (await card.getByTestId("rule-preview").textContent()) ?? "",
        'run_command "echo *" → allow',
      );
      await card.getByRole("button", { name: "Save rule and approve" }).click();
      await page.getByText('rule saved: run_command "echo *" → allow').waitFor({ timeout: 20_000 });
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      assert.match(sent(s.model, 2), /keep node_modules, it is vendored/);
      const config = JSON.parse(readFileSync(join(s.repo, ".entourage", "config.json"), "utf8"));
      assert.deepEqual(config.approvalRules.at(-1), {
        tool: "run_command",
        match: "echo *",
        action: "allow",
      });
      assert.deepEqual(s.model.failures, []);
      const events = await apiCall<{ events: { type: string; data: { by?: string } }[] }>(
        s.serve,
        s.home,
        `/runs/${body.runId}/events`,
      );
      const by = events.body.events.filter((e) => e.type === "approval.resolved").map((e) => e.data.by);
      assert.deepEqual(by, ["dashboard", "dashboard", "dashboard"]);
    } finally {
      await teardown(s);
    }
  });

  it("an intervention typed in the page reaches the model; 'interrupt now' stops a slow stream", async () => {
    const readSample = { name: "read_file", arguments: { path: "src/date.js" } };
    const s = await setup([
      { name: "slow", text: words(80, "slowword").join(""), chunkDelayMs: 100, toolCalls: [readSample] },
      {
        name: "after-interrupt",
        expectMessageContains: ["Use UTC everywhere"],
        text: words(25, "calmword").join(""),
        chunkDelayMs: 80,
        toolCalls: [readSample],
      },
      { name: "after-steer", expectMessageContains: ["Also keep the tests green"], ...finishTurn },
      // One lesson draft per correction, after the run.
      { name: "draft-1", text: "none" },
      { name: "draft-2", text: "none" },
    ]);
    const { page } = browser;
    try {
      await signIn(page, s.serve);
      const { body } = await apiCall<{ runId: string }>(s.serve, s.home, "/runs", {
        task: "Fix the date helper",
        repo: s.repo,
        approval: "auto",
      });
      await page.goto(`${s.serve.url}/runs/${body.runId}`);
      await page.getByText("slowword3 ").first().waitFor({ timeout: 20_000 });
      const box = page.getByLabel("Message", { exact: true });
      await box.fill("Use UTC everywhere");
      await page.getByRole("button", { name: "Interrupt now" }).click();
      await page.getByText("the agent was interrupted").waitFor();
      // The slow answer was cut off mid-stream: the model call was aborted, and the page says so.
      await waitFor("the second model request", () => s.model.requests.length >= 2, 20_000);
      assert.equal(s.model.requests[0]!.ended, false, "the first stream never finished");
      const cut = page.getByTestId("text-item").filter({ hasText: "slowword3" });
      await cut.getByText("cut off").waitFor();
      assert.doesNotMatch((await cut.textContent()) ?? "", /slowword79/);
      assert.match(sent(s.model, 1), /Use UTC everywhere/);

      // While the next answer streams, a non-interrupting message waits for the agent's next step.
      await page.getByText("calmword2 ").first().waitFor({ timeout: 20_000 });
      await box.fill("Also keep the tests green");
      await page.getByRole("button", { name: "Send at next step" }).click();
      await page.getByText("delivered at the agent's next step").waitFor();
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      assert.equal(s.model.requests[1]!.ended, true, "the second answer was not interrupted");
      assert.match(sent(s.model, 2), /Also keep the tests green/);
      const delivered = page.getByTestId("intervention-item").filter({ hasText: "delivered at step" });
      assert.equal(await delivered.count(), 2);
      assert.deepEqual(s.model.failures, []);
    } finally {
      await teardown(s);
    }
  });

  it("the diff shows the fix (highlighted, unified and side by side); replay scrubs; rewind and fork work from the page", async () => {
    const guidance = "Pad the month with padStart";
    const s = await setup([
      readTurn,
      editTurn,
      finishTurn,
      // After the rewind to before the edit, the run continues from there.
      { ...editTurn, name: "edit-after-rewind" },
      { ...finishTurn, name: "finish-after-rewind" },
      // The fork from the same point, with guidance for the next agent.
      { ...editTurn, name: "edit-in-fork", expectMessageContains: [guidance] },
      { ...finishTurn, name: "finish-in-fork" },
      { name: "draft-lesson", text: "none" },
    ]);
    const { page } = browser;
    try {
      await signIn(page, s.serve);
      const { body } = await apiCall<{ runId: string }>(s.serve, s.home, "/runs", {
        task: "Fix the date helper",
        repo: s.repo,
        approval: "auto",
      });
      const runId = body.runId;
      await page.goto(`${s.serve.url}/runs/${runId}`);
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });

      await page.getByRole("link", { name: "Changes" }).click();
      const diff = page.getByTestId("diff");
      await diff.getByText("padStart").first().waitFor();
      assert.ok((await diff.locator("tr.l-add").count()) >= 2, "added lines are marked");
      assert.ok((await diff.locator(".hljs-keyword").count()) > 0, "the code is syntax-highlighted");
      assert.match(
        await diff
          .locator("tr.l-add")
          .allInnerTexts()
          .then((t) => t.join("\n")),
        /String\(n\)\.padStart\(2, "0"\)/,
      );
      await screenshot(page, "dashboard-diff.png");
      await page.getByRole("button", { name: "Side by side" }).click();
      await diff.locator("table.code.split td.l-add").first().waitFor();
      const checkpoint = page.locator("li[data-checkpoint]").first();
      await checkpoint.getByRole("button").first().click();
      await page.getByRole("heading", { name: /^Checkpoint #\d+/ }).waitFor();
      await diff.getByText("padStart").first().waitFor();

      // Replay: back to just after the file was read, before the edit.
      const events = (
        await apiCall<{ events: { seq: number; type: string; data: { name?: string } }[] }>(
          s.serve,
          s.home,
          `/runs/${runId}/events`,
        )
      ).body.events;
      const readEnded = events.find((e) => e.type === "tool.call.ended" && e.data.name === "read_file")!.seq;
      await page.getByRole("link", { name: "Replay" }).click();
      const scrubber = page.getByTestId("scrubber");
      await scrubber.fill(String(readEnded));
      await page.getByTestId("replay-position").getByText(`Event #${readEnded} of`).waitFor();
      assert.equal((await page.getByTestId("replay-status").textContent()) ?? "", "running");
      assert.equal(await page.locator('[data-tool="edit_file"]').count(), 0, "the edit is not there yet");
      await scrubber.fill(String(events.at(-1)!.seq));
      await page.locator('[data-testid="tool-item"][data-tool="edit_file"]').waitFor();
      assert.equal((await page.getByTestId("replay-status").textContent()) ?? "", "succeeded");

      // Rewind to that point from the page: the workspace loses the fix and the run waits, paused.
      await scrubber.fill(String(readEnded));
      await page.getByRole("button", { name: `Rewind to #${readEnded}` }).click();
      await page.getByText(`Rewound to event ${readEnded}`).waitFor();
      await page.locator('.run-page[data-status="paused"]').waitFor();
      const state = (await apiCall<{ run: { workspace: string } }>(s.serve, s.home, `/runs/${runId}`)).body
        .run;
      const file = join(state.workspace, "src", "date.js");
      assert.ok(!readFileSync(file, "utf8").includes(FIXED_LINE), "the fix was rewound");
      await page.getByRole("button", { name: "Resume here" }).click();
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      assert.ok(readFileSync(file, "utf8").includes(FIXED_LINE), "the resumed run made the fix again");

      // Fork from the same point, with guidance: a new run, driven by the server, whose model reads it.
      await page.getByRole("link", { name: "Replay" }).click();
      await page.getByTestId("scrubber").fill(String(readEnded));
      await page.getByRole("button", { name: `Fork from #${readEnded}…` }).click();
      await page.getByLabel("Guidance for the agent that continues (optional)").fill(guidance);
      await page.getByRole("button", { name: "Start the fork" }).click();
      await page.waitForURL((url) => /\/runs\/run_\w+$/.test(url.pathname) && !url.pathname.endsWith(runId));
      await page.getByText(`forked from ${runId} at event ${readEnded}`).first().waitFor();
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      assert.match(sent(s.model, 5), new RegExp(guidance));

      await page.goto(`${s.serve.url}/`);
      await page.locator("table.runs tbody tr").nth(1).waitFor();
      await screenshot(page, "dashboard-runs.png");
      await waitFor("the lesson draft", () => s.model.remainingTurns() === 0, 15_000);
      assert.deepEqual(s.model.failures, []);
    } finally {
      await teardown(s);
    }
  });

  it("after a server restart the page reconnects by itself, resumes with Last-Event-ID, and shows every event once", async () => {
    const s = await setup([
      { name: "slow", text: words(100, "longword").join(""), chunkDelayMs: 100 },
      { name: "after-resume", ...finishTurn },
    ]);
    const { page } = browser;
    const resumeIds: (string | undefined)[] = [];
    page.on("request", (r) => {
      if (/\/runs\/run_\w+\/stream$/.test(r.url())) resumeIds.push(r.headers()["last-event-id"]);
    });
    let serve = s.serve;
    try {
      await signIn(page, serve);
      const { body } = await apiCall<{ runId: string }>(serve, s.home, "/runs", {
        task: "Explain the date helper",
        repo: s.repo,
        approval: "auto",
      });
      await page.goto(`${serve.url}/runs/${body.runId}`);
      await page.getByText("longword3 ").first().waitFor({ timeout: 20_000 });
      assert.equal(resumeIds.length, 1);

      await serve.stop();
      await page.getByTestId("connection").getByText("Reconnecting…").waitFor({ timeout: 10_000 });
      const seenBefore = Number(await page.getByTestId("timeline").getAttribute("data-last-seq"));
      serve = await startServe(s.home, fakeModelEnv(s.model.baseUrl), s.serve.port);
      s.serve = serve;
      await page.getByTestId("connection").getByText("Live").waitFor({ timeout: 15_000 });
      await page.locator('.run-page[data-status="paused"]').waitFor({ timeout: 10_000 });
      assert.ok(resumeIds.length >= 2, "the page reconnected");
      assert.equal(resumeIds.at(-1), String(seenBefore), "the reconnect resumed after the last event it had");

      // The new server continues the run from the page.
      await page.getByRole("button", { name: "Resume here" }).click();
      await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });
      const all = (await apiCall<{ events: { seq: number }[] }>(serve, s.home, `/runs/${body.runId}/events`))
        .body.events;
      await page.getByTestId("event-count").getByText(String(all.length), { exact: true }).waitFor();
      assert.equal(Number(await page.getByTestId("timeline").getAttribute("data-last-seq")), all.at(-1)!.seq);
      // The page shows the run's start once, however many times it reconnected.
      assert.equal(await page.getByText(/^run created: Explain the date helper$/).count(), 1);
      assert.deepEqual(s.model.failures, []);
    } finally {
      await teardown(s);
    }
  });

  it("the runs list: start times, aligned numbers, search and repository filter, and a phone-width card per run", async () => {
    const s = await setup([finishTurn, finishTurn]);
    const { page } = browser;
    try {
      for (const task of ["Alpha: fix the date helper", "Beta: tidy the tests"]) {
        const { body } = await apiCall<{ runId: string }>(s.serve, s.home, "/runs", { task, repo: s.repo });
        await waitFor(`${task} to finish`, async () => {
          const run = await apiCall<{ run: { status: string } }>(s.serve, s.home, `/runs/${body.runId}`);
          return run.body.run.status === "succeeded";
        });
      }
      await page.goto(`${s.serve.url}/`);
      const rows = page.locator("table.runs tbody tr");
      await rows.nth(1).waitFor();
      assert.equal(await rows.count(), 2);
      assert.match(
        (await rows.first().locator('td[data-label="started"]').textContent()) ?? "",
        /^\d\d:\d\d$/,
      );
      // The Cost heading's text ends where its numbers end (right-aligned both).
      const textRight = (selector: string) =>
        page.evaluate((sel) => {
          const range = document.createRange();
          range.selectNodeContents(document.querySelector(sel)!);
          return range.getBoundingClientRect().right;
        }, selector);
      const head = await textRight("table.runs thead th:nth-child(8)");
      const cell = await textRight("table.runs tbody tr:first-child td:nth-child(8)");
      assert.ok(Math.abs(head - cell) < 2, `Cost heading ends at ${head}, its numbers at ${cell}`);

      await page.getByLabel("Search runs").fill("beta tests");
      await waitFor("the search to leave one run", async () => (await rows.count()) === 1);
      assert.match((await rows.first().textContent()) ?? "", /Beta: tidy the tests/);
      await page.getByLabel("Search runs").fill("");
      await page.getByLabel("Filter runs by repo").selectOption(s.repo);
      await waitFor("both runs of the repository", async () => (await rows.count()) === 2);

      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.equal(overflow, 0, "nothing sticks out sideways at phone width");
      for (const label of ["started", "took"]) {
        const box = await rows.first().locator(`td[data-label="${label}"]`).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${label} is on screen`);
      }
      assert.equal(await rows.first().locator("td.wide-only").first().isVisible(), false);
      await screenshot(page, "dashboard-runs-phone.png");
    } finally {
      await page.setViewportSize({ width: 1360, height: 900 });
      await teardown(s);
    }
  });
});
