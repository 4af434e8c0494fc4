import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, makeSampleRepo, ROOT, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { type PostgresCluster, postgresForTests } from "../helpers/postgres.ts";
import {
  apiCall,
  type Browser,
  browserMissing,
  launchBrowser,
  type Serve,
  screenshot,
  signIn,
  startServe,
  startWorker,
  stopWorker,
  type Worker,
  waitFor,
} from "./dashboard-support.ts";

/**
 * A team deployment on one machine, as a team starts it: PostgreSQL (a private cluster), one
 * `entourage serve --store postgres://…` and two `entourage worker`s sharing ENTOURAGE_HOME (the shared
 * runs volume of docs/scale-out.md), the fake model server serving every conversation the same scenario.
 * Runs go in over the API; a worker is SIGKILLed while it drives a command; the other finishes its runs.
 * Then a person steers a worker's run from the dashboard of the server. FAILS without PostgreSQL or
 * Chromium under ENTOURAGE_CI=1.
 */
const { cluster, skip: noPostgres } = await postgresForTests();
const noBrowser = browserMissing();

type Event = { seq: number; id: string; type: string; data: Record<string, unknown> };

/**
 * kill-resume.json with its slow command slower (`sleep 8` for `sleep 2`): the worker must be killed while the
 * command runs, and under a loaded CI machine a 2 s window closed between seeing the command start and the kill.
 */
function slowerScenario(dir: string): string {
  const text = readFileSync(join(ROOT, "test", "e2e", "scenarios", "kill-resume.json"), "utf8");
  if (!text.includes("sleep 2 && npm test"))
    throw new Error("kill-resume.json no longer has its slow command");
  const file = join(dir, "workers-scenario.json");
  writeFileSync(file, text.replaceAll("sleep 2 && npm test", "sleep 8 && npm test"));
  return file;
}

describe("a team deployment: serve + workers on PostgreSQL", { skip: noPostgres, timeout: 600_000 }, () => {
  const pg = cluster as PostgresCluster;
  let home: string;
  let repo: string;
  let model: FakeModelServer;
  let env: Record<string, string>;
  let serve: Serve;
  const workers: Worker[] = [];
  let dbUrl: string;

  const events = async (runId: string): Promise<Event[]> =>
    (
      await pg.query(
        "SELECT seq, id, type, data FROM entourage.events WHERE run_id = $1 ORDER BY seq",
        [runId],
        new URL(dbUrl).pathname.slice(1),
      )
    ).map((r) => ({
      seq: r.seq as number,
      id: r.id as string,
      type: r.type as string,
      // Stored as the JSON text the store wrote (postgres-schema.ts).
      data: JSON.parse(r.data as string) as Record<string, unknown>,
    }));

  const startRun = async (task: string, approval: "auto" | "ask-risky"): Promise<string> => {
    const created = await apiCall<{ runId: string }>(serve, home, "/runs", {
      task,
      repo,
      mode: "single",
      approval,
      provider: "openai-compatible",
      baseUrl: model.baseUrl,
      model: "fake-coder",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.runId;
  };

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    dbUrl = await pg.createDatabase("workers");
    model = await startFakeModelServer({
      scenario: slowerScenario(home),
      perConversation: true,
    });
    // A short lease, so the sweep that finds a dead worker's runs comes round often.
    env = cliEnv(home, { ENTOURAGE_DATABASE_URL: dbUrl, ENTOURAGE_LEASE_TTL_SECONDS: "3" });
    serve = await startServe(home, { ENTOURAGE_DATABASE_URL: dbUrl, ENTOURAGE_LEASE_TTL_SECONDS: "3" });
    // The password is not printed.
    await waitFor("the queue line", () =>
      /runs go to the queue in postgres:\/\/postgres:\*\*\*@/.test(serve.output()),
    );
    workers.push(await startWorker(env, 2), await startWorker(env, 2));
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await serve?.stop();
    await model?.close();
    removeDir(home);
    removeDir(repo);
  });

  it("finishes ten runs when a worker is SIGKILLed mid-command: gap-free logs, every tool call executed once", async () => {
    const runIds: string[] = [];
    for (let i = 1; i <= 10; i++) runIds.push(await startRun(`Fix the failing tests (#${i})`, "auto"));

    // Kill the worker that drives a run while its slow command (`sleep 8 && npm test`) runs.
    const victim = await waitFor(
      "a slow command in flight",
      async () => {
        for (const runId of runIds) {
          const log = await events(runId);
          const slow = log.find((e) => e.type === "tool.call.started" && e.data.callId === "call_2_0");
          if (!slow || log.some((e) => e.type === "tool.call.ended" && e.data.callId === "call_2_0"))
            continue;
          const detail = await apiCall<{ driver?: { holder: { pid: number } } }>(
            serve,
            home,
            `/runs/${runId}`,
          );
          const worker = workers.find((w) => w.child.pid === detail.body.driver?.holder.pid);
          if (worker) return { runId, worker };
        }
        return undefined;
      },
      120_000,
    );
    victim.worker.child.kill("SIGKILL");
    const survivor = workers.find((w) => w !== victim.worker)!;

    let seen: { runId: string; status: string }[] = [];
    const finished = await waitFor(
      "all ten runs to finish",
      async () => {
        const { body } = await apiCall<{ runs: { runId: string; status: string }[] }>(
          serve,
          home,
          "/runs?limit=50",
        );
        seen = body.runs.filter((r) => runIds.includes(r.runId));
        return seen.length === 10 &&
          seen.every((r) => ["succeeded", "failed", "cancelled"].includes(r.status))
          ? seen
          : undefined;
      },
      300_000,
    ).catch((error: Error) => {
      const where = seen.map((r) => `${r.runId} ${r.status}`).join("\n");
      throw new Error(
        `${error.message}\n${where}\nsurvivor:\n${survivor.output().slice(-4000)}\nserver:\n${serve.output().slice(-2000)}`,
      );
    });
    // A run that did not succeed says why (its error and last events), beside the survivor's output.
    const why: string[] = [];
    for (const r of finished.filter((f) => f.status !== "succeeded")) {
      const log = await events(r.runId);
      const tail = log.slice(-6).map((e) => `${e.seq} ${e.type} ${JSON.stringify(e.data).slice(0, 300)}`);
      why.push(`${r.runId} ${r.status}:\n${tail.join("\n")}`);
    }
    assert.deepEqual(
      finished.map((r) => r.status),
      Array(10).fill("succeeded"),
      `every run succeeded:\n${why.join("\n")}\n${survivor.output().slice(-3000)}`,
    );

    for (const runId of runIds) {
      const log = await events(runId);
      assert.deepEqual(
        log.map((e) => e.seq),
        log.map((_, i) => i),
        `${runId}: seqs gap-free`,
      );
      assert.equal(new Set(log.map((e) => e.id)).size, log.length, `${runId}: no event twice`);
      const requested = log.filter((e) => e.type === "tool.call.requested").map((e) => e.data.callId);
      const ended = log.filter((e) => e.type === "tool.call.ended").map((e) => e.data.callId);
      const started = log.filter((e) => e.type === "tool.call.started").map((e) => e.data.callId);
      assert.deepEqual([...ended].sort(), [...new Set(requested)].sort(), `${runId}: one result per call`);
      assert.equal(new Set(started).size, started.length, `${runId}: no call started twice`);
      assert.equal(log.filter((e) => e.type === "run.finished").length, 1);
    }

    // The victim's run moved: the survivor took it over from the dead worker and told the model that
    // the cut-off command was interrupted instead of running it again.
    const moved = await events(victim.runId);
    const attaches = moved.filter((e) => e.type === "run.attached");
    assert.equal(attaches.at(-1)?.data.pid, survivor.child.pid);
    assert.equal(
      (attaches.at(-1)?.data.tookOverFrom as { pid: number } | undefined)?.pid,
      victim.worker.child.pid,
    );
    const slowEnd = moved.find((e) => e.type === "tool.call.ended" && e.data.callId === "call_2_0");
    assert.equal(slowEnd?.data.skipped, "interrupted", JSON.stringify(slowEnd?.data));

    // The change is there, made in the shared runs folder; `diff` reads it on any machine that mounts it.
    const diff = await runCli(["diff", victim.runId], { env });
    assert.match(diff.stdout, /padStart\(2, "0"\)/);
    // A replacement worker, for the next test.
    workers.splice(workers.indexOf(victim.worker), 1, await startWorker(env, 2));
  });

  it("is steered from the server's dashboard while a worker drives it", { skip: noBrowser }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const { page } = browser;
      await signIn(page, serve);
      const runId = await startRun("Fix the failing tests (steered)", "ask-risky");
      await page.goto(`${serve.url}/runs/${runId}`);
      const card = page.getByTestId("approval");
      await card.getByText("npm test").waitFor({ timeout: 60_000 });
      const detail = await apiCall<{ live: boolean; driver?: { holder: { label: string; pid: number } } }>(
        serve,
        home,
        `/runs/${runId}`,
      );
      assert.equal(detail.body.live, true);
      assert.equal(detail.body.driver?.holder.label, "entourage worker");
      assert.ok(workers.some((w) => w.child.pid === detail.body.driver?.holder.pid));
      // The page says which worker drives it.
      await page.getByTestId("driver").getByText(`entourage worker · `).waitFor({ timeout: 10_000 });
      await screenshot(page, "workers-dashboard-approval.png");

      await page.getByRole("button", { name: "Pause" }).click();
      await page.getByText("paused by dashboard").waitFor({ timeout: 20_000 });
      await page.getByRole("button", { name: "Resume" }).click();
      await page.getByText("resumed by dashboard").waitFor({ timeout: 20_000 });
      await card.getByRole("button", { name: "Approve" }).click();
      await page.getByText("approved by dashboard").waitFor({ timeout: 20_000 });

      // The second command: denied with a reason, which reaches the model on the worker.
      await card.getByText("sleep 8 && npm test").waitFor({ timeout: 60_000 });
      await card.getByRole("button", { name: "Deny…" }).click();
      await card.getByLabel("Reason (the model reads it)").fill("no sleeping on the team's workers");
      await card.getByRole("button", { name: "Deny", exact: true }).click();
      await page
        .getByText("denied by dashboard: “no sleeping on the team's workers”")
        .waitFor({ timeout: 20_000 });
      await waitFor("the run to finish", async () => {
        const log = await events(runId);
        return log.find((e) => e.type === "run.finished");
      });
      const request = model.requests.find((r) =>
        JSON.stringify(r.body).includes("no sleeping on the team's workers"),
      );
      assert.ok(request, "the model read the reason");
      const log = await events(runId);
      assert.ok(log.some((e) => e.type === "steer.handled" && e.data.ok === true));

      // Cancel, from the page, a run a worker drives.
      const other = await startRun("Fix the failing tests (cancelled)", "ask-risky");
      await page.goto(`${serve.url}/runs/${other}`);
      await card.getByText("npm test").waitFor({ timeout: 60_000 });
      await page.getByRole("button", { name: "Cancel run" }).click();
      await page.getByRole("button", { name: "Confirm: cancel the run" }).click();
      await waitFor("the cancel", async () =>
        (await events(other)).find((e) => e.type === "run.finished" && e.data.status === "cancelled"),
      );
    } finally {
      await browser?.close();
    }
  });
});
