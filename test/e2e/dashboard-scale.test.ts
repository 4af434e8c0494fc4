import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { syntheticEvent, syntheticStart } from "../../bench/dashboard.ts";
import { newId, systemClock } from "../../src/core/index.ts";
import { createApp, type Listening, listen } from "../../src/server/index.ts";
import { createMemoryEventStore, type EventStore } from "../../src/store/index.ts";
import { type Browser, browserMissing, launchBrowser } from "./dashboard-support.ts";

/**
 * A long run in the browser: 12,000 events stay light (the timeline is virtualised) and every control has
 * a name a screen reader can say. In-process server over a memory store: the events are written directly.
 */
const skip = browserMissing();

describe("dashboard with a long run", { skip, timeout: 120_000 }, () => {
  let browser: Browser;
  let store: EventStore;
  let listening: Listening;
  const runId = newId("run");
  before(async () => {
    store = createMemoryEventStore();
    const app = createApp({
      store,
      runs: new Map(),
      clock: systemClock,
      ids: newId,
      token: "scale-test-token-0123456789",
      workspaceDir: () => "/nonexistent",
      applyJournals: "/nonexistent",
      options: { host: "127.0.0.1" },
    });
    listening = await listen(app, { host: "127.0.0.1", port: 0 });
    const events = [
      ...syntheticStart("A long run"),
      ...Array.from({ length: 12_000 - 3 }, (_, i) => syntheticEvent(i)),
    ];
    for (let i = 0; i < events.length; i += 2000) await store.append(runId, events.slice(i, i + 2000));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await listening?.close();
  });

  it("shows all 12,000 events with a few dozen rows in the page, and scrolls back to the first", async () => {
    const { page } = browser;
    await page.goto(`${listening.url}/runs/${runId}`);
    const timeline = page.getByTestId("timeline");
    await page.locator('[data-testid="timeline"][data-last-seq="11999"]').waitFor({ timeout: 60_000 });
    await page.getByTestId("event-count").getByText("12000", { exact: true }).waitFor();
    const items = Number(await timeline.getAttribute("data-items"));
    assert.ok(items > 1000, `the timeline has ${items} items`);
    const rows = await timeline.locator("[data-index]").count();
    assert.ok(rows > 0 && rows < 100, `${rows} rows in the DOM for ${items} items`);
    // The newest is in view (the list follows the end); the first is one scroll away.
    await timeline.locator(`[data-index="${items - 1}"]`).waitFor();
    await timeline.evaluate((el) => {
      el.scrollTop = 0;
    });
    await timeline.locator('[data-seq="0"]').waitFor();
    // The scripted label and the missing isolation are on the page.
    await page.getByText("Scripted demo model — not an LLM").waitFor();
    await page.getByText("no isolation").first().waitFor();
  });

  it("every button, link and field has an accessible name", async () => {
    const { page } = browser;
    const ready: Record<string, string> = {
      "": '[data-testid="timeline"][data-last-seq="11999"]',
      "?tab=diff": ".diff-tab .checkpoints li[data-checkpoint]",
      "?tab=replay": '[data-testid="replay-position"]',
    };
    for (const [tab, selector] of Object.entries(ready)) {
      await page.goto(`${listening.url}/runs/${runId}${tab}`);
      await page.locator(selector).first().waitFor({ timeout: 60_000 });
      const unnamed = await page.evaluate(() => {
        const out: string[] = [];
        for (const el of document.querySelectorAll("button, a[href], input, select, textarea")) {
          const html = el as HTMLElement;
          const labelled =
            html.getAttribute("aria-label") ||
            html.getAttribute("aria-labelledby") ||
            (html.id && document.querySelector(`label[for="${html.id}"]`)) ||
            (el.tagName !== "INPUT" &&
              el.tagName !== "SELECT" &&
              el.tagName !== "TEXTAREA" &&
              html.textContent?.trim());
          if (!labelled) out.push(html.outerHTML.slice(0, 120));
        }
        return out;
      });
      assert.deepEqual(unnamed, [], `controls without a name on ${tab || "the timeline"}`);
    }
  });
});
