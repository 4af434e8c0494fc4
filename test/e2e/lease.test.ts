/**
 * One driver per run, with the real CLI: a run a live process drives cannot be resumed (or rewound) by
 * another; a run whose driver was killed shows as interrupted and is taken over by exactly one of several
 * concurrent `resume`s; a driver that lost its lease (stopped past the TTL) writes nothing more.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModelServer } from "../fake-llm/server.ts";
import {
  BIN,
  type CliResult,
  cliEnv,
  fakeModel,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  tempDir,
} from "../helpers/cli.ts";
import {
  browserMissing,
  launchBrowser,
  screenshot,
  signIn,
  startServe,
  waitFor,
} from "./dashboard-support.ts";
import { type DbEvent, dbEvents } from "./support.ts";

type Event = DbEvent;

const SCENARIO = join(ROOT, "test", "e2e", "scenarios", "lease.json");

/** `entourage run --json` in the background; resolves once its waiting command has started. */
function startWaitingRun(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; runId: string; workspace: string; done: Promise<CliResult> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let buffer = "";
    let stdout = "";
    let stderr = "";
    let runId = "";
    let workspace = "";
    const done = new Promise<CliResult>((settle) =>
      child.on("close", (code, signal) => settle({ code, signal, stdout, stderr })),
    );
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        const event = JSON.parse(line) as Event & { runId: string };
        if (event.type === "run.created") {
          runId = event.runId;
          workspace = String(event.data.workspace);
        }
        if (event.type === "tool.call.started" && event.data.name === "run_command")
          resolve({ child, runId, workspace, done });
      }
    });
    child.on("error", reject);
    done.then((r) => reject(new Error(`the run ended before its command started: ${r.stderr}`)));
  });
}

/** Every tool call has exactly one result, the run finished once, and the seqs are gap-free. */
function assertDrivenOnce(log: Event[]): void {
  assert.deepEqual(
    log.map((e) => e.seq),
    log.map((_, i) => i),
  );
  const requested = log.filter((e) => e.type === "tool.call.requested").map((e) => e.data.callId);
  const results = log.filter((e) => e.type === "tool.call.ended").map((e) => e.data.callId);
  assert.deepEqual([...new Set(requested)].sort(), [...results].sort(), "one result per tool call");
  assert.equal(new Set(results).size, results.length, "no tool call has two results");
  assert.equal(log.filter((e) => e.type === "run.finished").length, 1, "the run finished once");
  assert.equal(log.at(-1)?.type, "run.finished");
}

describe("one driver per run", () => {
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    server = await startFakeModelServer({ scenario: SCENARIO });
  });
  after(async () => {
    await server.close();
  });
  type WaitingRun = Awaited<ReturnType<typeof startWaitingRun>> & {
    home: string;
    env: Record<string, string>;
  };
  /** A fresh home and checkout with a run waiting in its first command; both removed after `body`. */
  async function withWaitingRun(extraEnv: Record<string, string>, body: (run: WaitingRun) => Promise<void>) {
    const home = tempDir("home");
    const repo = makeSampleRepo();
    try {
      server.seek(0);
      const env = cliEnv(home, extraEnv);
      const args = [
        "run",
        "Fix the date",
        "--repo",
        repo,
        ...fakeModel(server),
        "--mode",
        "single",
        "--json",
      ];
      await body({ ...(await startWaitingRun(args, env)), home, env });
    } finally {
      removeDir(home);
      removeDir(repo);
    }
  }

  it("refuses to resume or rewind a run a live process drives, naming it; the run goes on", async () => {
    await withWaitingRun({}, async ({ home, env, ...live }) => {
      const resume = await runCli(["resume", live.runId], { env });
      assert.equal(resume.code, 2, resume.stderr);
      assert.match(
        resume.stderr,
        new RegExp(`Run ${live.runId} is being driven by process ${live.child.pid}`),
      );
      assert.match(resume.stderr, /entourage run/);
      assert.match(resume.stderr, /entourage attach/);
      const rewind = await runCli(["rewind", live.runId, "--to", "0"], { env });
      assert.equal(rewind.code, 2, rewind.stderr);
      assert.match(rewind.stderr, /is being driven by process/);

      const listed = JSON.parse((await runCli(["runs", "--json"], { env })).stdout) as {
        status: string;
        interrupted?: boolean;
        driver?: { holder: { pid: number } };
      }[];
      assert.equal(listed[0]?.status, "running");
      assert.equal(listed[0]?.interrupted, undefined);
      assert.equal(listed[0]?.driver?.holder.pid, live.child.pid);
      const shown = await runCli(["show", live.runId], { env });
      assert.match(shown.stdout, new RegExp(`driven now by process ${live.child.pid}`));

      writeFileSync(join(live.workspace, ".go"), "");
      const finished = await live.done;
      assert.equal(finished.code, 0, finished.stderr);
      const log = dbEvents(home, live.runId);
      assertDrivenOnce(log);
      assert.equal(log.filter((e) => e.type === "run.attached").length, 1, "nobody else attached");
      assert.deepEqual(server.failures, []);
    });
  });

  it("lists a killed run as interrupted, and of four concurrent resumes exactly one drives it", async () => {
    await withWaitingRun({}, async ({ home, env, ...live }) => {
      live.child.kill("SIGKILL");
      await live.done;

      const table = await runCli(["runs"], { env });
      assert.match(table.stdout, new RegExp(`${live.runId}\\s+interrupted`));
      assert.match(table.stdout, new RegExp(`Continue with: entourage resume ${live.runId}`));
      const shown = await runCli(["show", live.runId], { env });
      assert.match(shown.stdout, /interrupted: the process that drove this run is gone/);

      const requestsBefore = server.requests.length;
      server.seek(1); // the cut-off command is reported to the model; it goes on with the edit
      const resumes = await Promise.all(
        [1, 2, 3, 4].map(() => runCli(["resume", live.runId, "--json"], { env, timeoutMs: 120_000 })),
      );
      const codes = resumes.map((r) => r.code).sort();
      assert.deepEqual(codes, [0, 2, 2, 2], resumes.map((r) => r.stderr).join("\n---\n"));
      for (const refused of resumes.filter((r) => r.code === 2))
        assert.match(refused.stderr, /is being driven by process \d+ on .* \(entourage resume\)/);

      const log = dbEvents(home, live.runId);
      assertDrivenOnce(log);
      assert.equal(log.at(-1)?.data.status, "succeeded");
      const resumed = log.filter((e) => e.type === "run.attached" && e.data.resumed === true);
      assert.equal(resumed.length, 1, "one process attached after the kill");
      assert.deepEqual(resumed[0]?.data.tookOverFrom, {
        pid: live.child.pid,
        host: hostname(),
        label: "entourage run",
      });
      assert.equal(server.requests.length - requestsBefore, 2, "only the winner spoke to the model");
      const after = JSON.parse((await runCli(["runs", "--json"], { env })).stdout) as {
        interrupted?: boolean;
      }[];
      assert.equal(after[0]?.interrupted, undefined);
    });
  });

  it("a driver that lost its lease (stopped past the TTL) writes nothing more once it wakes", async () => {
    await withWaitingRun({ ENTOURAGE_LEASE_TTL_SECONDS: "1" }, async ({ home, env, ...stopped }) => {
      stopped.child.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, 2500)); // past the TTL: the lease is stale though the process lives

      server.seek(1);
      const taken = await runCli(["resume", stopped.runId, "--json"], { env, timeoutMs: 120_000 });
      assert.equal(taken.code, 0, taken.stderr);
      const finishedLog = dbEvents(home, stopped.runId);
      assertDrivenOnce(finishedLog);

      // The old driver wakes up, its command is let through: it must not write a single event.
      writeFileSync(join(stopped.workspace, ".go"), "");
      stopped.child.kill("SIGCONT");
      const woke = await stopped.done;
      assert.notEqual(woke.code, 0);
      assert.match(woke.stderr, new RegExp(`no longer drives run ${stopped.runId}`));
      assert.deepEqual(dbEvents(home, stopped.runId), finishedLog);
    });
  });

  it("the dashboard shows a killed run as interrupted, and Resume here finishes it on entourage serve", {
    skip: browserMissing(),
  }, async () => {
    await withWaitingRun({}, async ({ home, ...killed }) => {
      killed.child.kill("SIGKILL");
      await killed.done;
      const browser = await launchBrowser();
      const serve = await startServe(home, {});
      try {
        const { page } = browser;
        await signIn(page, serve);
        const row = page.locator(`tr[data-run-id="${killed.runId}"]`);
        await row.getByText("interrupted").waitFor();
        await page.goto(`${serve.url}/runs/${killed.runId}`);
        await page.getByTestId("interrupted").waitFor();
        await screenshot(page, "run-interrupted.png");
        server.seek(1);
        await page.getByRole("button", { name: "Resume here" }).click();
        await page.locator('.run-page[data-status="succeeded"]').waitFor({ timeout: 60_000 });
        await waitFor("the badge to go", async () => (await page.getByTestId("interrupted").count()) === 0);
        const log = dbEvents(home, killed.runId);
        assertDrivenOnce(log);
        const attached = log.filter((e) => e.type === "run.attached").at(-1);
        assert.equal((attached?.data.tookOverFrom as { label?: string })?.label, "entourage run");
      } finally {
        await browser.close();
        await serve.stop();
      }
    });
  });
});
