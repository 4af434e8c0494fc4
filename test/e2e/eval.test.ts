import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { type CliResult, cliEnv, ROOT, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { assertNoCrash, dbEvents, dbRunIds, describeResult } from "./support.ts";

/**
 * `entourage eval` end to end, on the built CLI: the shipped task set (demo/eval: Python with pytest, Go,
 * JavaScript) against the fake model server playing one script per task (test/fake-llm/scenarios/
 * eval-tasks.json), a SWE-bench-shaped file over a real git history, and task files with mistakes. The
 * verdicts come from the tests run on a fresh checkout: a run whose model claims a fix it did not make,
 * and whose own test run passed, must come out unresolved.
 */

interface TaskResult {
  instanceId: string;
  verdict: string;
  reason: string;
  runId?: string;
  runStatus?: string;
  mode?: string;
  sandbox?: string;
  baseCommit?: string;
  baseline?: { passed: number; total: number };
  failToPass?: {
    passed: number;
    total: number;
    allPassed: boolean;
    tests: { id: string; passed: boolean }[];
  };
  passToPass?: { passed: number; total: number; allPassed: boolean };
  changedFiles?: string[];
  steps: number;
  inputTokens: number;
  outputTokens: number;
}
interface Report {
  evalId: string;
  concurrency: number;
  dir: string;
  tasks: TaskResult[];
  totals: { tasks: number; resolved: number; resolvedRate: number; errors: number; inputTokens: number };
}

const SHIPPED = join(ROOT, "demo", "eval", "tasks.jsonl");
const SCENARIO = join(ROOT, "test", "fake-llm", "scenarios", "eval-tasks.json");
const PYTEST = "python3 -m pytest -q -p no:cacheprovider {tests}";

/** The most runs of `runIds` in flight at once, read from the store's append order (no clock involved). */
function mostAtOnce(home: string, runIds: string[]): number {
  const db = new DatabaseSync(join(home, "entourage.db"), { readOnly: true });
  try {
    const rows = db
      .prepare(
        `SELECT run_id, type FROM events WHERE type IN ('run.created', 'run.finished') AND run_id IN (${runIds.map(() => "?").join(",")}) ORDER BY pos`,
      )
      .all(...runIds) as { run_id: string; type: string }[];
    let live = 0;
    let most = 0;
    for (const row of rows) {
      live += row.type === "run.created" ? 1 : -1;
      most = Math.max(most, live);
    }
    assert.equal(live, 0, "every run was created and finished");
    return most;
  } finally {
    db.close();
  }
}

function byId(report: Report): Map<string, TaskResult> {
  return new Map(report.tasks.map((t) => [t.instanceId, t]));
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" },
  }).trim();
}

describe("entourage eval", () => {
  let home: string;
  let work: string;
  let server: FakeModelServer;
  let flags: string[];
  let shipped: CliResult;
  let report: Report;

  before(async () => {
    home = tempDir("home");
    work = tempDir("eval");
    server = await startFakeModelServer({ scenario: SCENARIO, perConversation: true });
    flags = [
      "--provider",
      "openai-compatible",
      "--base-url",
      server.baseUrl,
      "--model",
      "fake-coder",
      "--mode",
      "single",
      "--sandbox",
      "subprocess",
    ];
    shipped = await runCli(
      ["eval", SHIPPED, ...flags, "--concurrency", "2", "--out", join(work, "out.json")],
      {
        env: cliEnv(home),
        timeoutMs: 240_000,
      },
    );
    assertNoCrash(shipped);
    assert.equal(shipped.code, 0, describeResult(shipped));
    report = JSON.parse(readFileSync(join(work, "out.json"), "utf8")) as Report;
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(work);
  });

  it("judges the shipped set by its tests: three fixes resolved, a false success and a broken test not", () => {
    const tasks = byId(report);
    assert.deepEqual(
      report.tasks.map((t) => [t.instanceId, t.verdict]),
      [
        ["py-calc-add", "resolved"],
        ["go-sum-first", "resolved"],
        ["js-slug-spaces", "resolved"],
        ["js-price-quantity", "unresolved"],
        ["py-text-title", "unresolved"],
      ],
    );
    for (const t of report.tasks) {
      assert.equal(t.baseline?.passed, 0, `${t.instanceId}: FAIL_TO_PASS fail before any change`);
      assert.equal(t.sandbox, "subprocess", "judged in the run's own sandbox backend");
      assert.equal(t.mode, "single");
      assert.equal(t.steps, 2);
      assert.equal(t.inputTokens, 920);
      assert.equal(t.outputTokens, 90);
    }
    // The false success: the model said done, its run's own test command passed, the hidden test fails.
    const claimed = tasks.get("js-price-quantity")!;
    assert.equal(claimed.runStatus, "succeeded");
    assert.deepEqual(claimed.changedFiles, ["test/price.test.js"]);
    assert.deepEqual(claimed.failToPass?.tests, [
      { id: "multiplies by quantity", passed: false, exitCode: 1 },
    ]);
    assert.equal(claimed.passToPass?.allPassed, true);
    const finished = dbEvents(home, claimed.runId!).find((e) => e.type === "agent.finished");
    assert.equal((finished!.data.report as { status: string }).status, "done");
    // A fix of the failing test that breaks a passing one.
    const broke = tasks.get("py-text-title")!;
    assert.deepEqual([broke.failToPass?.passed, broke.passToPass?.passed], [1, 0]);
    assert.match(broke.reason, /PASS_TO_PASS 0\/1 still pass/);
    assert.deepEqual(report.totals, {
      ...report.totals,
      tasks: 5,
      resolved: 3,
      resolvedRate: 0.6,
      errors: 0,
    });
    assert.equal(report.totals.inputTokens, 5 * 920);
    assert.deepEqual(server.failures, []);
  });

  it("prints the table with a total row, and keeps the results where it says", () => {
    const out = shipped.stdout;
    assert.match(out, /^TASK\s+RESOLVED\s+F2P\s+P2P\s+STEPS\s+TOKENS IN\/OUT\s+COST\s+WALL\s+RUN$/m);
    assert.match(
      out,
      /^py-calc-add\s+✓\s+1\/1\s+1\/1\s+2\s+920\/90\s+cost unknown\s+\S+ m?s\s+run_\w+ \(succeeded\)$/m,
    );
    assert.match(out, /^js-price-quantity\s+✗\s+0\/1\s+1\/1\s+.*\(succeeded\)$/m);
    assert.match(out, /^py-text-title\s+✗\s+1\/1\s+0\/1\s+.*\(failed\)$/m);
    assert.match(out, /^TOTAL\s+3\/5 \(60%\)\s+4\/5\s+4\/5\s+10\s+4\.6k\/450\s+cost unknown/m);
    assert.match(out, /js-price-quantity: unresolved: FAIL_TO_PASS 0\/1 pass/);
    const kept = join(home, "evals", report.evalId, "results.json");
    assert.ok(out.includes(`results: ${kept}`));
    assert.deepEqual(JSON.parse(readFileSync(kept, "utf8")), report);
    assert.match(shipped.stderr, /\[4\/5\] js-price-quantity: unresolved ✗ .*the run succeeded/);
  });

  it("keeps every run in the store, for `runs`, `show` and the dashboard, marked as the eval's", async () => {
    const runs = await runCli(["runs", "--json"], { env: cliEnv(home) });
    const listed = (JSON.parse(runs.stdout) as { runId: string }[]).map((r) => r.runId);
    for (const t of report.tasks) assert.ok(listed.includes(t.runId!), `${t.runId} is listed`);
    const claimed = byId(report).get("js-price-quantity")!;
    const show = await runCli(["show", claimed.runId!], { env: cliEnv(home) });
    assert.equal(show.code, 0, describeResult(show));
    assert.match(show.stdout, new RegExp(`eval ${report.evalId} · task js-price-quantity`));
    assert.match(show.stdout, /Fixed: total\(\) multiplies by quantity/);
    const created = dbEvents(home, claimed.runId!)[0]!;
    assert.deepEqual(created.data.eval, { id: report.evalId, instanceId: "js-price-quantity" });
  });

  it("runs at most --concurrency tasks at once", () => {
    assert.equal(report.concurrency, 2);
    const most = mostAtOnce(
      home,
      report.tasks.map((t) => t.runId!),
    );
    assert.ok(most >= 1 && most <= 2, `${most} runs were in flight at once`);
  });

  it("reads SWE-bench's shape over a git history: checks out base_commit, refuses a task that cannot fail", async () => {
    // A repository whose HEAD already has the fix: judged at HEAD, the task would be invalid.
    const repo = join(work, "calc");
    cpSync(join(ROOT, "demo", "eval", "repos", "py-calc"), repo, { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "calc with the bug");
    const base = git(repo, "rev-parse", "HEAD");
    writeFileSync(
      join(repo, "calc.py"),
      readFileSync(join(repo, "calc.py"), "utf8").replace(
        "a - b\n    return total",
        "a + b\n    return total",
      ),
    );
    git(repo, "commit", "-q", "-am", "the fix");
    const statement =
      "add() in calc.py returns the wrong result: add(2, 3) should be 5. Fix add without changing sub.";
    const swe = (id: string, f2p: string[]) =>
      JSON.stringify({
        repo: `file://${repo}`,
        instance_id: id,
        base_commit: base,
        patch: "",
        test_patch: "",
        problem_statement: statement,
        hints_text: "",
        created_at: "2026-01-01T00:00:00Z",
        version: "0.1",
        FAIL_TO_PASS: JSON.stringify(f2p),
        PASS_TO_PASS: JSON.stringify(["tests/test_calc.py::test_sub"]),
        environment_setup_commit: base,
      });
    const file = join(work, "swe.jsonl");
    writeFileSync(
      file,
      [
        swe("calc__calc-1", ["tests/test_calc.py::test_add"]),
        swe("calc__calc-2", ["tests/test_calc.py::test_sub"]),
        swe("calc__calc-3", ["tests/test_calc.py::test_add"]).replace(base, "0".repeat(40)),
        JSON.stringify({
          instance_id: "slug",
          repo: join(ROOT, "demo", "eval", "repos", "js-slug"),
          problem_statement:
            'slugify in slug.js leaves several dashes: "Hello   big  World" should become "hello-big-world".',
          FAIL_TO_PASS: ["one dash between words"],
          PASS_TO_PASS: ["lowercases"],
          test_command: "node --test --test-name-pattern={tests_regex}",
        }),
      ].join("\n"),
    );
    const before = server.requests.length;
    const result = await runCli(
      ["eval", file, ...flags, "--concurrency", "1", "--test-command", PYTEST, "--json"],
      {
        env: cliEnv(home),
        timeoutMs: 180_000,
      },
    );
    assertNoCrash(result);
    // An invalid task is the harness's error, not a verdict on the model: exit 1, the rest still judged.
    assert.equal(result.code, 1, describeResult(result));
    const swReport = JSON.parse(result.stdout) as Report;
    const tasks = byId(swReport);
    const fixed = tasks.get("calc__calc-1")!;
    assert.equal(fixed.verdict, "resolved", fixed.reason);
    assert.equal(fixed.baseCommit, base);
    const invalid = tasks.get("calc__calc-2")!;
    assert.equal(invalid.verdict, "invalid");
    assert.match(invalid.reason, /tests\/test_calc\.py::test_sub already passes before any change/);
    assert.equal(invalid.runId, undefined, "no run is started for a task that cannot fail");
    const lost = tasks.get("calc__calc-3")!;
    assert.equal(lost.verdict, "error");
    assert.match(lost.reason, /swe\.jsonl:3: base_commit 0{40} is not a commit of .*calc/);
    assert.equal(tasks.get("slug")?.verdict, "resolved");
    assert.deepEqual(swReport.totals, { ...swReport.totals, tasks: 4, resolved: 2, errors: 2 });
    assert.equal(server.requests.length - before, 4, "two runs of two model turns each");
    // One at a time: each run finished before the next was created.
    assert.equal(mostAtOnce(home, [fixed.runId!, tasks.get("slug")!.runId!]), 1);
    // The user's repository is left as it was.
    assert.equal(git(repo, "status", "--porcelain"), "");
    assert.notEqual(git(repo, "rev-parse", "HEAD"), base);
  });

  it("runs a task in its own mode: the pipeline's five agents on the demo repository", async () => {
    const file = join(work, "pipeline.jsonl");
    writeFileSync(
      file,
      `${JSON.stringify({
        instance_id: "dates",
        repo: join(ROOT, "demo", "sample-repo"),
        problem_statement: "Fix the failing tests in src/date.js",
        FAIL_TO_PASS: ["formatISODate pads month and day", "formatISODate handles December"],
        PASS_TO_PASS: ["addDays crosses a month boundary"],
        test_command: "node --test --test-name-pattern={tests_regex}",
        mode: "pipeline",
      })}\n`,
    );
    const pipeline = await startFakeModelServer({ scenario: join(ROOT, "demo", "pipeline.scenario.json") });
    try {
      const noMode = flags.filter((f, i) => f !== "--mode" && flags[i - 1] !== "--mode");
      const url = noMode.indexOf(server.baseUrl);
      noMode[url] = pipeline.baseUrl;
      const result = await runCli(["eval", file, ...noMode, "--json"], {
        env: cliEnv(home),
        timeoutMs: 120_000,
      });
      assert.equal(result.code, 0, describeResult(result));
      const [task] = (JSON.parse(result.stdout) as Report).tasks;
      assert.equal(task?.mode, "pipeline");
      assert.equal(task?.verdict, "resolved", task?.reason);
      assert.deepEqual([task?.failToPass?.passed, task?.failToPass?.total], [2, 2]);
      const agents = dbEvents(home, task!.runId!)
        .filter((e) => e.type === "agent.started")
        .map((e) => e.data.name);
      for (const role of ["pipeline", "analyzer", "implementer", "tester", "refactorer"])
        assert.ok(agents.includes(role), `${role} ran: ${agents.join(", ")}`);
      assert.deepEqual(pipeline.failures, []);
      assert.equal(pipeline.remainingTurns(), 0);
    } finally {
      await pipeline.close();
    }
  });

  it("refuses a task file with mistakes, naming each line, and starts nothing", async () => {
    const file = join(work, "bad.jsonl");
    writeFileSync(
      file,
      [
        JSON.stringify({
          instance_id: "a",
          repo: ".",
          problem_statement: "x",
          FAIL_TO_PASS: ["t"],
          test_command: "pytest {tests}",
        }),
        "",
        JSON.stringify({
          instance_id: "b",
          repo: ".",
          problem_statement: "x",
          FAIL_TO_PASS: "t",
          test_command: "pytest {tests}",
        }),
        "{oops",
        JSON.stringify({ instance_id: "c", repo: ".", problem_statement: "x", FAIL_TO_PASS: ["t"] }),
      ].join("\n"),
    );
    const evalsBefore = readdirSync(join(home, "evals")).length;
    const result = await runCli(["eval", file, ...flags], { env: cliEnv(home) });
    assertNoCrash(result);
    assert.equal(result.code, 2, describeResult(result));
    assert.match(result.stderr, /bad\.jsonl:3: FAIL_TO_PASS: expected array, received string/);
    assert.match(result.stderr, /bad\.jsonl:4: not valid JSON/);
    assert.match(result.stderr, /bad\.jsonl:5: test_command: missing; .*--test-command/);
    assert.doesNotMatch(result.stderr, /bad\.jsonl:1:/);
    assert.equal(readdirSync(join(home, "evals")).length, evalsBefore, "no eval was started");
    const missing = await runCli(["eval", join(work, "nope.jsonl"), ...flags], { env: cliEnv(home) });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read the task file .*nope\.jsonl: no such file/);
    const zero = await runCli(["eval", SHIPPED, ...flags, "--concurrency", "0"], { env: cliEnv(home) });
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /Expected a positive integer, got "0"/);
    // A refusal every task would meet (no model configured) stops the eval before any run starts.
    const runsBefore = dbRunIds(home).length;
    const noModel = await runCli(["eval", SHIPPED, "--sandbox", "subprocess"], { env: cliEnv(home) });
    assertNoCrash(noModel);
    assert.equal(noModel.code, 2, describeResult(noModel));
    assert.match(noModel.stderr, /No model is configured/);
    assert.equal(dbRunIds(home).length, runsBefore);
  });
});
