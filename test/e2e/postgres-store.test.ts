import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadScenario } from "../fake-llm/scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import {
  type CliResult,
  cliEnv,
  fakeModel,
  jsonLines,
  makeSampleRepo,
  ROOT,
  removeDir,
  runCli,
  tempDir,
} from "../helpers/cli.ts";
import { type PostgresCluster, postgresForTests } from "../helpers/postgres.ts";

/**
 * A run whose event log lives in PostgreSQL, as a user sets it up: the built CLI, the fake model server,
 * a real repo, and ENTOURAGE_DATABASE_URL pointing at a real PostgreSQL (a private cluster); then `runs`,
 * `show` and `doctor` read that database, chosen by the variable or by `--store`. Skipped without
 * PostgreSQL; FAILS then under ENTOURAGE_CI=1.
 */
const { cluster, skip } = await postgresForTests();

describe("entourage run with a PostgreSQL event store", { skip }, () => {
  const pg = cluster as PostgresCluster;
  let home: string;
  let repo: string;
  let url: string;
  let server: FakeModelServer;
  let run: CliResult;
  let events: Record<string, unknown>[];
  let runId: string;

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    url = await pg.createDatabase("e2e");
    server = await startFakeModelServer({
      scenario: await loadScenario(join(ROOT, "demo", "fix-date.scenario.json")),
    });
    run = await runCli(
      [
        "run",
        "Fix the failing tests",
        "--repo",
        repo,
        ...fakeModel(server),
        "--mode",
        "single",
        "--sandbox",
        "subprocess",
        "--json",
      ],
      { env: cliEnv(home, { ENTOURAGE_DATABASE_URL: url }) },
    );
    events = jsonLines(run.stdout);
    runId = String(events[0]?.runId);
  });

  after(async () => {
    await server?.close();
    removeDir(home);
    removeDir(repo);
    await pg?.stop();
  });

  it("runs to success with every event in PostgreSQL and no SQLite file in the home", async () => {
    assert.equal(run.code, 0, `stderr: ${run.stderr}\nstdout tail: ${run.stdout.slice(-2000)}`);
    assert.equal(events.at(-1)?.type, "run.finished");
    assert.equal(existsSync(join(home, "entourage.db")), false, "nothing went to the embedded store");
    const rows = await pg.query(
      "SELECT seq, id FROM entourage.events WHERE run_id = $1 ORDER BY seq",
      [runId],
      new URL(url).pathname.slice(1),
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      events.map((e) => e.id),
      "the database holds exactly the streamed events, in order",
    );
  });

  it("`runs` and `show` read the run back, through ENTOURAGE_DATABASE_URL or --store", async () => {
    const listed = await runCli(["runs", "--json"], { env: cliEnv(home, { ENTOURAGE_DATABASE_URL: url }) });
    assert.equal(listed.code, 0, listed.stderr);
    const runs = JSON.parse(listed.stdout) as { runId: string; status: string; task: string }[];
    assert.deepEqual(
      runs.map((r) => [r.runId, r.status, r.task]),
      [[runId, "succeeded", "Fix the failing tests"]],
    );

    // --store (after the command, as people type it) wins over the variable, which here points nowhere.
    const shown = await runCli(["show", runId, "--json", "--store", url], {
      env: cliEnv(home, { ENTOURAGE_DATABASE_URL: pg.url("no_such_db") }),
    });
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(jsonLines(shown.stdout), events);

    const text = await runCli(["show", runId], { env: cliEnv(home, { ENTOURAGE_DATABASE_URL: url }) });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Fix the failing tests/);
  });

  it("`doctor` shows the PostgreSQL store without its password", async () => {
    const result = await runCli(["--store", url, "doctor", "--json"], {
      env: cliEnv(home),
      timeoutMs: 120_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const { store } = JSON.parse(result.stdout) as {
      store: { kind: string; ok: boolean; location: string; source: string; detail: string };
    };
    assert.equal(store.kind, "postgres");
    assert.equal(store.ok, true, store.detail);
    assert.equal(store.source, "--store");
    assert.match(store.detail, /PostgreSQL 1\d.*schema version 1, 1 run/);
    assert.ok(!store.location.includes(pg.password) && store.location.includes("***"), store.location);
  });

  it("an unreachable or misnamed store stops with exit 2 and says what to fix", async () => {
    const down = await runCli(["runs"], {
      env: cliEnv(home, { ENTOURAGE_DATABASE_URL: pg.url().replace(`:${pg.port}/`, ":1/") }),
    });
    assert.equal(down.code, 2, down.stderr);
    assert.match(
      down.stderr,
      /Cannot reach the PostgreSQL event store postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//,
    );
    assert.doesNotMatch(down.stderr, new RegExp(pg.password));
    assert.doesNotMatch(down.stderr, /\n\s+at /, "no stack trace");

    const unknown = await runCli(["runs", "--store", "mysql://db/entourage"], { env: cliEnv(home) });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--store names a store Entourage does not know/);
  });
});
