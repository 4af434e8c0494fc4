/**
 * Runs finished per minute by a team deployment: `entourage serve --store postgres://…` queues runs and
 * 1, 2 or 4 `entourage worker`s (concurrency 1 each) drive them, against the same server on SQLite driving
 * every run itself, measured in the same bench run. Each run is the date fix of demo/sample-repo played by
 * the fake model server over the real OpenAI wire protocol (a scripted model, answering at once): read the
 * file, edit it, finish; then the orchestrator's own verification runs `npm test` in the sandbox. So a run
 * costs what the machinery costs — composing, the workspace copy, the sandbox, the log, the queue — and no
 * model time. The clock runs from the first POST /runs to the last run's end, with the processes already up.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  apiCall,
  startServe,
  startWorker,
  stopWorker,
  type Worker,
  waitFor,
} from "../test/e2e/dashboard-support.ts";
import { type FakeModelServer, startFakeModelServer } from "../test/fake-llm/server.ts";
import { cliEnv, makeSampleRepo, ROOT } from "../test/helpers/cli.ts";
import { type PostgresCluster, startPostgresCluster } from "../test/helpers/postgres.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const RUNS = Number(process.env.ENTOURAGE_BENCH_WORKER_RUNS ?? 8);

/** kill-resume.json (the e2e scenario of the same fix) without its slow parts: read, edit, finish. */
function scenario(): object {
  type Turn = { name: string; chunkDelayMs?: number; toolCalls?: { name: string }[] };
  const base = JSON.parse(
    readFileSync(join(ROOT, "test", "e2e", "scenarios", "kill-resume.json"), "utf8"),
  ) as { turns: Turn[] };
  const turns = base.turns
    .filter((t) => t.name !== "slow test")
    .map(({ chunkDelayMs: _slow, ...turn }) => ({
      ...turn,
      toolCalls: turn.toolCalls?.filter((call) => call.name !== "run_command"),
    }));
  return { name: "bench-date-fix", description: "The date fix, answered at once", turns };
}

/** Submits RUNS runs to a server at once; ms from the first POST to the last run's end, and their endings. */
async function finishRuns(
  serve: { url: string },
  home: string,
  repo: string,
  model: FakeModelServer,
): Promise<{ ms: number; statuses: string[] }> {
  const started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: RUNS }, async (_, i) => {
      const created = await apiCall<{ runId: string }>(serve, home, "/runs", {
        task: `Fix the failing tests (bench ${i + 1})`,
        repo,
        mode: "single",
        approval: "auto",
        provider: "openai-compatible",
        baseUrl: model.baseUrl,
        model: "fake-coder",
      });
      if (created.status !== 201)
        throw new Error(`POST /runs: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body.runId;
    }),
  );
  const ended = await waitFor(
    `${RUNS} runs to end`,
    async () => {
      const { body } = await apiCall<{ runs: { runId: string; status: string }[] }>(
        serve,
        home,
        `/runs?limit=${RUNS * 4}`,
      );
      const mine = body.runs.filter((r) => ids.includes(r.runId));
      return mine.length === RUNS &&
        mine.every((r) => ["succeeded", "failed", "cancelled"].includes(r.status))
        ? mine.map((r) => r.status)
        : undefined;
    },
    600_000,
  );
  return { ms: performance.now() - started, statuses: ended };
}

export async function workersBench(table: Table): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "entourage-workers-bench-"));
  const scenarioFile = join(dir, "scenario.json");
  writeFileSync(scenarioFile, JSON.stringify(scenario()));
  const repo = makeSampleRepo();
  const model = await startFakeModelServer({ scenario: scenarioFile, perConversation: true });
  let cluster: PostgresCluster | undefined;
  const rows: Row[] = [];
  const measure = async (
    setup: string,
    extraEnv: Record<string, string>,
    workers: number,
  ): Promise<number> => {
    const home = mkdtempSync(join(dir, "home-"));
    const serve = await startServe(home, extraEnv);
    const started: Worker[] = [];
    try {
      for (let i = 0; i < workers; i++) started.push(await startWorker(cliEnv(home, extraEnv), 1));
      const { ms, statuses } = await finishRuns(serve, home, repo, model);
      const ok = statuses.filter((s) => s === "succeeded").length;
      const perMinute = (RUNS / ms) * 60_000;
      rows.push({
        setup,
        runs: `${RUNS} (${ok} succeeded)`,
        "first POST → last end": `${(ms / 1000).toFixed(1)} s`,
        "runs/min": perMinute.toFixed(1),
      });
      return perMinute;
    } finally {
      for (const worker of started) await stopWorker(worker);
      await serve.stop();
    }
  };
  try {
    const baseline = await measure("SQLite: `serve` drives every run itself (baseline)", {}, 0);
    try {
      cluster = await startPostgresCluster();
    } catch (error) {
      console.log(`\n(PostgreSQL rows skipped: ${(error as Error).message})`);
    }
    if (cluster) {
      for (const workers of [1, 2, 4]) {
        const url = await cluster.createDatabase(`bench_workers_${workers}`);
        await measure(
          `PostgreSQL: \`serve\` queues, ${workers} worker${workers > 1 ? "s" : ""}`,
          { ENTOURAGE_DATABASE_URL: url },
          workers,
        );
      }
    }
    for (const row of rows) row["vs baseline"] = `${(Number(row["runs/min"]) / baseline).toFixed(2)}×`;
    table(
      `Runs finished per minute (${RUNS} runs submitted at once; scripted model over the OpenAI wire protocol, answering at once; default sandbox; this machine has 2 cores)`,
      rows,
    );
  } finally {
    await cluster?.stop();
    await model.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node bench/workers.ts`: this table alone.
if (import.meta.main) {
  const { printTable } = await import("./table.ts");
  await workersBench(printTable);
}
