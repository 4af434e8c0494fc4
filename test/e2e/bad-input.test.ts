import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import {
  BIN,
  type CliResult,
  cliEnv,
  jsonLines,
  makeSampleRepo,
  removeDir,
  runCli,
  tempDir,
  treeHash,
} from "../helpers/cli.ts";
import {
  assertNoCrash,
  dbEvents,
  dbRunIds,
  describeResult,
  editTurn,
  FIXED_LINE,
  fakeModelArgs,
  finishTurn,
  readTurn,
} from "./support.ts";

/**
 * Bad input, end to end through the built CLI: wrong flags and commands, a wrong --repo, no model, unknown
 * run ids, broken config files, hostile files the model asks to read, and apply against a checkout that
 * moved on. Each case must exit with the documented code (2 for usage and configuration errors), print a
 * clear `error:` line on stderr that says what to do, print no stack trace, and lose nothing: the
 * ENTOURAGE_HOME database still holds the earlier run, unchanged, and the user's repo is byte-identical.
 *
 * Each test gets a private copy of a seeded ENTOURAGE_HOME (one finished run in it).
 */

const cleanups: (() => Promise<void> | void)[] = [];
let template: string; // the seeded ENTOURAGE_HOME, copied for each test
let seedRunId: string;
let seedEventCount: number;
let seedServer: FakeModelServer; // answers nothing: usage errors must not reach the model

before(async () => {
  template = tempDir("home-template");
  const repo = makeSampleRepo();
  const server = await startFakeModelServer({ scenario: [readTurn, editTurn, finishTurn] });
  cleanups.push(
    () => server.close(),
    () => removeDir(template),
    () => removeDir(repo),
  );
  const seeded = await runCli(
    ["run", "Fix the failing tests", "--repo", repo, ...fakeModelArgs(server.baseUrl), "--json"],
    { env: cliEnv(template) },
  );
  assert.equal(seeded.code, 0, describeResult(seeded));
  seedRunId = String(jsonLines(seeded.stdout)[0]?.runId);
  seedEventCount = dbEvents(template, seedRunId).length;
  seedServer = await startFakeModelServer({ scenario: [] });
  cleanups.push(() => seedServer.close());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A private ENTOURAGE_HOME holding the seeded run. */
function freshHome(): string {
  const home = tempDir("home");
  cpSync(template, home, { recursive: true });
  cleanups.push(() => removeDir(home));
  return home;
}

function freshRepo(): { repo: string; hash: string } {
  const repo = makeSampleRepo();
  cleanups.push(() => removeDir(repo));
  return { repo, hash: treeHash(repo) };
}

/** Exit 2, an `error:` line first on stderr matching every pattern, nothing on stdout, no stack trace. */
function assertUsageError(result: CliResult, ...patterns: RegExp[]): void {
  assert.equal(result.code, 2, describeResult(result));
  assertNoCrash(result);
  assert.match(result.stderr, /^error: \S/, `stderr must start with "error: …":\n${result.stderr}`);
  for (const p of patterns) assert.match(result.stderr, p);
  assert.equal(result.stdout, "", "a usage error prints nothing on stdout");
}

/** The earlier run is still listed, with every one of its events; no other run was recorded. */
function assertNothingLost(home: string, extraRuns = 0): void {
  const ids = dbRunIds(home);
  assert.ok(ids.includes(seedRunId), `the earlier run ${seedRunId} is gone from the database: ${ids}`);
  assert.equal(ids.length, 1 + extraRuns, `unexpected runs recorded: ${ids.join(", ")}`);
  assert.equal(dbEvents(home, seedRunId).length, seedEventCount, "the earlier run's events changed");
  assert.deepEqual(
    readdirSync(join(home, "runs")).sort(),
    ids.sort(),
    "a failed start left a run directory behind (or lost one)",
  );
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" },
  });

describe("bad command lines exit 2 with a usage message", () => {
  const cases: { name: string; args: (repo: string) => string[]; expect: RegExp[] }[] = [
    {
      name: "unknown flag",
      args: (repo) => ["run", "Fix it", "--repo", repo, "--bogus"],
      expect: [/unknown option '--bogus'/, /--help/],
    },
    {
      name: "unknown command",
      args: () => ["frobnicate"],
      expect: [/unknown command 'frobnicate'/, /--help/],
    },
    {
      name: "missing task argument",
      args: (repo) => ["run", "--repo", repo],
      expect: [/missing required argument 'task'/, /--help/],
    },
    {
      name: "--max-steps abc",
      args: (repo) => ["run", "Fix it", "--repo", repo, "--max-steps", "abc"],
      expect: [/--max-steps/, /"abc"/, /positive integer/, /--help/],
    },
    {
      name: "--sandbox nope",
      args: (repo) => ["run", "Fix it", "--repo", repo, "--sandbox", "nope"],
      expect: [/--sandbox/, /'nope' is invalid/, /bwrap, docker, gvisor, subprocess/],
    },
    {
      name: "empty task",
      args: (repo) => ["run", "  ", "--repo", repo],
      expect: [/task is empty/, /entourage run "/],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const home = freshHome();
      const { repo, hash } = freshRepo();
      const args = c.args(repo);
      // Model flags go after the command's own arguments, as a user would type them.
      const full = args[0] === "run" ? [...args, ...fakeModelArgs(seedServer.baseUrl)] : args;
      const result = await runCli(full, { env: cliEnv(home) });
      assertUsageError(result, ...c.expect);
      assertNothingLost(home);
      assert.equal(treeHash(repo), hash, "the user's repo changed");
      assert.equal(seedServer.requests.length, 0, "a usage error must not call the model");
    });
  }
});

describe("a wrong --repo exits 2 naming the path and what to pass", () => {
  it("a directory that does not exist", async () => {
    const home = freshHome();
    const parent = tempDir("gone");
    cleanups.push(() => removeDir(parent));
    const missing = join(parent, "no-such-dir");
    const result = await runCli(["run", "Fix it", "--repo", missing, ...fakeModelArgs(seedServer.baseUrl)], {
      env: cliEnv(home),
    });
    assertUsageError(result, new RegExp(missing.replaceAll("/", "\\/")), /does not exist/, /--repo/);
    assertNothingLost(home);
  });

  it("a directory that is not a git checkout", async () => {
    const home = freshHome();
    const dir = tempDir("plain");
    cleanups.push(() => removeDir(dir));
    writeFileSync(join(dir, "notes.txt"), "hello\n");
    const hash = treeHash(dir);
    const result = await runCli(["run", "Fix it", "--repo", dir, ...fakeModelArgs(seedServer.baseUrl)], {
      env: cliEnv(home),
    });
    assertUsageError(result, /not inside a git work tree/, /git init/);
    assert.equal(result.stderr.trim().split("\n").length, 1, `expected one line:\n${result.stderr}`);
    assertNothingLost(home);
    assert.equal(treeHash(dir), hash);
    assert.deepEqual(readdirSync(dir), ["notes.txt"], "Entourage wrote into the user's directory");
  });

  it("a file instead of a directory", async () => {
    const home = freshHome();
    const { repo } = freshRepo();
    const file = join(repo, "package.json");
    const result = await runCli(["run", "Fix it", "--repo", file, ...fakeModelArgs(seedServer.baseUrl)], {
      env: cliEnv(home),
    });
    assertUsageError(result, /package\.json/, /not a directory/, /--repo/);
    assertNothingLost(home);
  });
});

describe("no model configured", () => {
  it("exits 2 and lists every way to configure one: key variables, flags, environment, Ollama", async () => {
    const home = freshHome();
    const { repo, hash } = freshRepo();
    // cliEnv passes no key variables; ENTOURAGE_* are not set either.
    const result = await runCli(["run", "Fix it", "--repo", repo, "--sandbox", "subprocess"], {
      env: cliEnv(home),
    });
    assertUsageError(
      result,
      /No model is configured/,
      /OPENAI_API_KEY/,
      /ANTHROPIC_API_KEY/,
      /GOOGLE_GENERATIVE_AI_API_KEY|GEMINI_API_KEY/,
      /--provider/,
      /ENTOURAGE_PROVIDER/,
      /Ollama/,
      /--base-url http:\/\/127\.0\.0\.1:11434\/v1/,
      /entourage demo/,
    );
    // The Ollama example must be a command that works when pasted (it needs `run "<task>"`).
    const example = result.stderr.split("\n").find((l) => l.includes("11434")) ?? "";
    assert.match(
      example,
      /entourage run\b/,
      `the Ollama example is not a runnable command (\`entourage --provider …\` is rejected as an unknown option): ${example.trim()}`,
    );
    assertNothingLost(home);
    assert.equal(treeHash(repo), hash);
  });
});

describe("an unknown run id exits 2 with 'No run with id'", () => {
  for (const command of ["show", "diff", "apply", "resume"]) {
    it(command, async () => {
      const home = freshHome();
      const result = await runCli([command, "run_doesnotexist"], { env: cliEnv(home) });
      assertUsageError(result, /No run with id run_doesnotexist/, /entourage runs/);
      assert.equal(result.stderr.trim().split("\n").length, 1, `expected one line:\n${result.stderr}`);
      assertNothingLost(home);
    });
  }
});

describe("a broken config file exits 2 naming the file (and the field)", () => {
  const run = (home: string, repo: string) =>
    runCli(["run", "Fix it", "--repo", repo, ...fakeModelArgs(seedServer.baseUrl)], { env: cliEnv(home) });

  it("invalid JSON in <repo>/.entourage/config.json", async () => {
    const home = freshHome();
    const { repo } = freshRepo();
    mkdirSync(join(repo, ".entourage"));
    const file = join(repo, ".entourage", "config.json");
    writeFileSync(file, '{ "maxSteps": 10, }\n');
    const hash = treeHash(repo);
    const result = await run(home, repo);
    assertUsageError(
      result,
      new RegExp(`${file.replaceAll("/", "\\/").replaceAll(".", "\\.")}`),
      /not valid JSON/,
    );
    assertNothingLost(home);
    assert.equal(treeHash(repo), hash);
  });

  it("a field of the wrong type in <repo>/.entourage/config.json", async () => {
    const home = freshHome();
    const { repo } = freshRepo();
    mkdirSync(join(repo, ".entourage"));
    writeFileSync(join(repo, ".entourage", "config.json"), '{ "maxSteps": "lots" }\n');
    const hash = treeHash(repo);
    const result = await run(home, repo);
    assertUsageError(result, /"maxSteps"/, /\.entourage\/config\.json/, /number/);
    assertNothingLost(home);
    assert.equal(treeHash(repo), hash);
  });

  it("a misspelt field in $ENTOURAGE_HOME/config.json", async () => {
    const home = freshHome();
    const { repo, hash } = freshRepo();
    writeFileSync(join(home, "config.json"), '{ "maxStep": 10 }\n');
    const result = await run(home, repo);
    assertUsageError(result, /maxStep/, new RegExp(`${home}/config\\.json`));
    assertNothingLost(home);
    assert.equal(treeHash(repo), hash);
  });
});

describe("files the model should not or cannot read: tool errors it receives, the run still finishes", () => {
  let home: string;
  let repo: string;
  let hash: string;
  let server: FakeModelServer;
  let result: CliResult;
  let events: Record<string, unknown>[];
  /** Tool results sent to the model in the request after the bad reads, by call id. */
  let results: Map<string, string>;

  const reads: Record<string, string> = {
    c_dir: "src",
    c_dangling: "dangling",
    c_big: "big.txt",
    c_long: "one-line.min.js",
    c_bin: "logo.bin",
    c_up: "../x",
    c_abs: "/etc/passwd",
    c_link: "passwd-link",
    c_fifo: "pipe",
  };

  before(async () => {
    home = freshHome();
    ({ repo } = freshRepo());
    // 5 MB of text in 50 000 lines, a 2 MB single line, a binary, a dangling link, a link out of the repo.
    writeFileSync(join(repo, "big.txt"), `${"x".repeat(99)}\n`.repeat(50_000));
    writeFileSync(join(repo, "one-line.min.js"), `var a=${"1+".repeat(1_000_000)}1;`);
    writeFileSync(
      join(repo, "logo.bin"),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    );
    symlinkSync("missing-target.txt", join(repo, "dangling"));
    symlinkSync("/etc/passwd", join(repo, "passwd-link"));
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "hostile files");
    hash = treeHash(repo);

    const badReads: FakeTurn = {
      name: "bad reads",
      text: "Looking around.",
      toolCalls: [
        // The agent makes a FIFO in its workspace, then asks to read it: opening it would block forever.
        { id: "c_mkfifo", name: "run_command", arguments: { command: "mkfifo pipe" } },
        ...Object.entries(reads).map(([id, path]) => ({ id, name: "read_file", arguments: { path } })),
      ],
    };
    server = await startFakeModelServer({ scenario: [badReads, readTurn, editTurn, finishTurn] });
    cleanups.push(() => server.close());
    result = await runCli(
      // The test file by name: a bare `node --test` on the user's Node 20 trips over the fixture's dangling link.
      [
        "run",
        "Fix the failing tests",
        "--repo",
        repo,
        ...fakeModelArgs(server.baseUrl),
        "--test-command",
        "node --test test/date.test.js",
        "--json",
      ],
      { env: cliEnv(home), timeoutMs: 30_000 },
    );
    events = jsonLines(result.stdout);
    const messages = (server.requests[1]?.body?.messages ?? []) as {
      role: string;
      tool_call_id?: string;
      content?: unknown;
    }[];
    results = new Map(
      messages
        .filter((m) => m.role === "tool" && m.tool_call_id)
        .map((m) => [
          String(m.tool_call_id),
          typeof m.content === "string" ? m.content : JSON.stringify(m.content),
        ]),
    );
  });

  it("the run finishes with exit 0 and the fix, having used every scripted turn", async () => {
    assert.equal(result.code, 0, describeResult(result));
    assertNoCrash(result);
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
    const finished = events.findLast((e) => e.type === "run.finished")?.data as
      | { status?: string }
      | undefined;
    assert.equal(finished?.status, "succeeded");
    const diff = await runCli(["diff", String(events[0]?.runId)], { env: cliEnv(home) });
    assert.ok(diff.stdout.includes(`+  ${FIXED_LINE}`), diff.stdout + diff.stderr);
    assert.equal(treeHash(repo), hash, "the user's repo changed");
    assertNothingLost(home, 1);
  });

  it("the model received a result for every call of the turn", () => {
    for (const id of ["c_mkfifo", ...Object.keys(reads)])
      assert.ok(results.has(id), `no tool result for ${id}`);
    const ended = events
      .filter((e) => e.type === "tool.call.ended")
      .map((e) => e.data as { callId: string; isError: boolean });
    for (const id of Object.keys(reads))
      assert.equal(
        ended.find((e) => e.callId === id)?.isError,
        id !== "c_big" && id !== "c_long",
        `isError of ${id}`,
      );
  });

  it("a directory: told to use list_files", () => {
    assert.match(results.get("c_dir") ?? "", /src is a directory.*list_files/);
  });

  it("a dangling symlink: told it does not exist", () => {
    assert.match(results.get("c_dangling") ?? "", /dangling does not exist/);
  });

  it("a 5 MB file: a truncated slice with a note saying how to read on", () => {
    const out = results.get("c_big") ?? "";
    assert.ok(out.length < 40_000, `read_file sent ${out.length} characters of a 5 MB file`);
    assert.match(out, /^\s*1\D.*x{99}/, "the slice starts at line 1");
    assert.match(out, /Showing lines 1–\d+ of 50000\. Read more with offset=\d+/);
  });

  it("a 2 MB single line: cut, with a note", () => {
    const out = results.get("c_long") ?? "";
    assert.ok(out.length < 40_000, `read_file sent ${out.length} characters`);
    assert.match(out, /line cut: 2000007 characters|longer than 2000 characters were cut/);
  });

  it("a binary file: an actionable error", () => {
    assert.match(results.get("c_bin") ?? "", /logo\.bin is a binary file.*run_command/);
  });

  it("paths outside the workspace: refused, saying to use a relative path inside the project", () => {
    assert.match(results.get("c_up") ?? "", /"\.\.\/x" leads outside the workspace/);
    assert.match(
      results.get("c_abs") ?? "",
      /"\/etc\/passwd" is outside the workspace \(\/.+\).*relative to the workspace root/,
    );
    assert.match(
      results.get("c_link") ?? "",
      /passwd-link is a symlink to \/etc\/passwd, which is outside the workspace/,
    );
    for (const id of ["c_up", "c_abs", "c_link"]) assert.doesNotMatch(results.get(id) ?? "", /root:x:0:0/);
  });

  it("a FIFO: refused at once (not read, which would hang)", () => {
    const mkfifo = events.find(
      (e) => e.type === "tool.call.ended" && (e.data as { callId: string }).callId === "c_mkfifo",
    )?.data as { exitCode?: number } | undefined;
    assert.equal(mkfifo?.exitCode, 0, `mkfifo failed: ${results.get("c_mkfifo")}`);
    assert.match(results.get("c_fifo") ?? "", /pipe is not a regular file/);
  });
});

describe("apply against a checkout that moved on", () => {
  /** A finished run that fixed src/date.js in a fresh repo; returns its id. */
  async function fixedRun(home: string, repo: string): Promise<string> {
    const server = await startFakeModelServer({ scenario: [readTurn, editTurn, finishTurn] });
    cleanups.push(() => server.close());
    const run = await runCli(
      ["run", "Fix the failing tests", "--repo", repo, ...fakeModelArgs(server.baseUrl), "--json"],
      {
        env: cliEnv(home),
      },
    );
    assert.equal(run.code, 0, describeResult(run));
    return String(jsonLines(run.stdout)[0]?.runId);
  }

  it("the user edited the same file: exit 2, the file is listed, the user's edit is kept byte for byte", async () => {
    const home = freshHome();
    const { repo } = freshRepo();
    const runId = await fixedRun(home, repo);
    const file = join(repo, "src", "date.js");
    appendFileSync(file, "// my own change, not committed\r\n\u00e9\n");
    const mine = readFileSync(file);
    const hash = treeHash(repo);

    const result = await runCli(["apply", runId], { env: cliEnv(home) });
    assertUsageError(result, /Nothing was applied/, /src\/date\.js/, /git stash/);
    assert.deepEqual(readFileSync(file), mine, "the user's edit was not preserved byte for byte");
    assert.equal(treeHash(repo), hash, "apply wrote into the checkout although it refused");
    assert.equal(git(repo, "status", "--porcelain").trim(), "M src/date.js");
    const applied = dbEvents(home, runId).filter((e) => e.type === "diff.applied");
    assert.equal(applied.length, 0, "a refused apply must not be logged as applied");
    assertNothingLost(home, 1);
  });

  it("apply twice: the second is refused, says the run was already applied, and writes nothing", async () => {
    const home = freshHome();
    const { repo } = freshRepo();
    const runId = await fixedRun(home, repo);
    const first = await runCli(["apply", runId], { env: cliEnv(home) });
    assert.equal(first.code, 0, describeResult(first));
    const file = join(repo, "src", "date.js");
    const afterFirst = readFileSync(file);
    assert.ok(afterFirst.includes(FIXED_LINE));
    const hash = treeHash(repo);

    const second = await runCli(["apply", runId], { env: cliEnv(home) });
    assertUsageError(second, /src\/date\.js/);
    assert.deepEqual(readFileSync(file), afterFirst);
    assert.equal(treeHash(repo), hash, "the second apply wrote into the checkout");
    assert.equal(dbEvents(home, runId).filter((e) => e.type === "diff.applied").length, 1);
    // The checkout holds the run's change, not edits of the user's: advice to stash "your edits" misleads.
    assert.match(
      second.stderr,
      /already applied/,
      `the refusal does not say the run was already applied:\n${second.stderr}`,
    );
    assertNothingLost(home, 1);
  });
});

describe("a closed pipe (entourage … | head -1)", () => {
  it("stops quietly with the SIGPIPE status, no stack trace", async () => {
    const home = tempDir("epipe-home");
    try {
      const child = spawn(process.execPath, [BIN, "doctor"], {
        env: cliEnv(home),
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.destroy(); // the reader is gone before the first line is written
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const [code] = (await once(child, "close")) as [number | null];
      assert.equal(code, 141, stderr);
      assert.equal(stderr, "");
    } finally {
      removeDir(home);
    }
  });
});
