import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
import { finishTurn } from "./support.ts";

const REASON_1 = "keep node_modules, it is vendored";
const REASON_2 = "leave dist alone, CI publishes it";
const DRAFT_1 = "Do not delete node_modules; it is vendored.";
const DRAFT_2 = "Keep the dist folder; CI publishes it.";
const EDITED = "Never delete node_modules: this repo vendors its dependencies.";
const SAVED_BY_HAND = "Always delete node_modules.";

/**
 * Lessons decided in the dashboard (a real browser against `entourage serve` and the fake model server):
 * two denials with a reason become two lessons drafted by the model; in the run's Lessons tab one is
 * edited, clashes with a lesson already in memory.md (shown with its text and the choices, not stacked),
 * is kept next to it, and lands in the repo's .entourage/memory.md; the other is rejected and does not.
 */
describe("dashboard: lessons from corrections", { skip: browserMissing(), timeout: 180_000 }, () => {
  let browser: Browser;
  let home: string;
  let repo: string;
  let model: FakeModelServer;
  let serve: Serve;
  const memoryFile = () => join(repo, ".entourage", "memory.md");

  const turns: FakeTurn[] = [
    { name: "rm-1", toolCalls: [{ name: "run_command", arguments: { command: "rm -rf node_modules" } }] },
    {
      name: "rm-2",
      expectMessageContains: [REASON_1],
      toolCalls: [{ name: "run_command", arguments: { command: "rm -rf dist" } }],
    },
    { ...finishTurn, expectMessageContains: [REASON_2] },
    // After the run: one drafting request per correction, in order.
    { name: "draft-1", expectMessageContains: ["a denied tool call", REASON_1], text: DRAFT_1 },
    { name: "draft-2", expectMessageContains: ["a denied tool call", REASON_2], text: DRAFT_2 },
  ];

  before(async () => {
    home = tempDir("dash-lessons-home");
    repo = makeSampleRepo();
    mkdirSync(join(repo, ".entourage"), { recursive: true });
    writeFileSync(memoryFile(), `# Lessons\n\n- ${SAVED_BY_HAND} <!-- id: l_hand · by hand -->\n`);
    model = await startFakeModelServer({ scenario: { name: "dashboard-lessons", turns } });
    serve = await startServe(home, fakeModelEnv(model.baseUrl));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    await model?.close();
    removeDir(home);
    removeDir(repo);
  });

  it("edits and accepts one proposal (through a shown clash) into memory.md, rejects the other", async () => {
    const { page } = browser;
    await signIn(page, serve);
    const { body } = await apiCall<{ runId: string }>(serve, home, "/runs", {
      task: "Clean the build",
      repo,
      approval: "ask-risky",
    });
    const runId = body.runId;
    await page.goto(`${serve.url}/runs/${runId}`);

    // Two corrections: denials with a reason, from the page.
    const card = page.getByTestId("approval");
    for (const [command, reason] of [
      ["rm -rf node_modules", REASON_1],
      ["rm -rf dist", REASON_2],
    ] as const) {
      await card.getByText(command).waitFor({ timeout: 20_000 });
      await card.getByRole("button", { name: "Deny…" }).click();
      await card.getByLabel("Reason (the model reads it)").fill(reason);
      await card.getByRole("button", { name: "Deny", exact: true }).click();
      await page.getByText(`denied by dashboard: “${reason}”`).waitFor({ timeout: 20_000 });
    }
    await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 30_000 });

    // The proposals arrive after the run; the page says so and the tab counts them.
    await page.getByTestId("lessons-hint").getByText("2 lessons proposed").waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: /^Lessons/ }).click();
    const lessons = page.getByTestId("lesson");
    await waitFor("two lesson cards", async () => (await lessons.count()) === 2, 15_000);
    const [first, second] = [lessons.nth(0), lessons.nth(1)];
    const events = (
      await apiCall<{ events: { seq: number; type: string; data: { reason?: string } }[] }>(
        serve,
        home,
        `/runs/${runId}/events`,
      )
    ).body.events;
    const denialSeq = events.find((e) => e.type === "approval.resolved" && e.data.reason === REASON_1)!.seq;
    assert.equal(await first.getByTestId("lesson-text").textContent(), DRAFT_1);
    assert.equal(await second.getByTestId("lesson-text").textContent(), DRAFT_2);
    const provenance = (await first.getByTestId("lesson-provenance").textContent()) ?? "";
    assert.match(provenance, new RegExp(`From your denial at event #${denialSeq}: “${REASON_1}”`));
    await first.getByText("drafted by the model").waitFor();
    // The proposal may contradict the lesson already saved: warned before anything is decided.
    assert.match(
      (await first.getByTestId("lesson-warning").textContent()) ?? "",
      new RegExp(`may contradict l_hand “${SAVED_BY_HAND}”`),
    );

    // Edit (keyboard), save: the API refuses with lesson_conflicts and the page shows the clash.
    await first.getByRole("button", { name: /^Edit/ }).focus();
    await page.keyboard.press("Enter");
    const field = first.getByLabel("Lesson text (as it will be saved)");
    await waitFor("focus in the text field", () =>
      page.evaluate(() => document.activeElement?.tagName === "TEXTAREA"),
    );
    await field.fill(EDITED);
    await page.keyboard.press("Control+Enter");
    const clash = first.getByTestId("lesson-clash");
    await clash.waitFor();
    assert.match((await clash.textContent()) ?? "", new RegExp(`may contradict l_hand “${SAVED_BY_HAND}”`));
    assert.ok(!readFileSync(memoryFile(), "utf8").includes(EDITED), "nothing is written before a choice");
    await waitFor("focus on the first choice", () =>
      page.evaluate(() => document.activeElement?.textContent === "Keep both"),
    );
    await screenshot(page, "dashboard-lessons.png");
    await clash.getByRole("button", { name: "Replace l_hand" }).waitFor();
    await clash.getByRole("button", { name: "Cancel" }).waitFor();
    await page.keyboard.press("Enter"); // Keep both
    await page.locator('[data-testid="lesson"][data-status="edited"]').waitFor();
    await first
      .getByTestId("lesson-decided")
      .getByText(/Saved to \.entourage\/memory\.md/)
      .waitFor();
    assert.equal(await first.getByTestId("lesson-text").textContent(), EDITED);

    // The second one: rejected from the page.
    await second.getByRole("button", { name: /^Reject/ }).click();
    await page.locator('[data-testid="lesson"][data-status="rejected"]').waitFor();
    await second.getByText("Rejected: nothing was written.").waitFor();
    await page.getByRole("link", { name: "Lessons", exact: true }).waitFor(); // no count left
    assert.equal(await page.getByTestId("lessons-hint").count(), 0);
    await screenshot(page, "dashboard-lessons-decided.png");

    const memory = readFileSync(memoryFile(), "utf8");
    const lessonId = await first.getAttribute("data-lesson-id");
    assert.ok(memory.includes(`- ${EDITED} <!-- id: ${lessonId} · ${runId} #${denialSeq} -->`), memory);
    assert.ok(memory.includes(`- ${SAVED_BY_HAND} <!-- id: l_hand`), "kept both");
    assert.ok(!memory.includes(DRAFT_1), "the draft was saved as edited");
    assert.ok(!memory.includes(DRAFT_2) && !memory.includes("dist"), "the rejected lesson is not in memory");
    const list = await apiCall<{ lessons: { status: string; decidedText?: string; saved: boolean }[] }>(
      serve,
      home,
      `/runs/${runId}/lessons`,
    );
    assert.deepEqual(
      list.body.lessons.map((l) => [l.status, l.saved]),
      [
        ["edited", true],
        ["rejected", false],
      ],
    );
    assert.deepEqual(model.failures, []);
    assert.equal(model.remainingTurns(), 0);
  });
});
