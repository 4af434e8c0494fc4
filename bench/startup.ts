/**
 * Start-up and the two-turn task, for `npm run bench` (or alone: `node bench/startup.ts`): the built CLI as a
 * user runs it (bin/entourage), a fresh process each time, against the fake model server (in this process, real HTTP). The
 * task: one tool call (read README.md), then an answer. Figures, each a whole process:
 *
 * - the task in the default mode (pipeline: a question goes to the Analyzer) and with `--mode single`
 *   (run_command `cat README.md` through the default sandbox), the run's API server on as by default;
 * - start → first model request (when the fake server receives it), and the answer (the last request) → exit;
 * - peak RSS (the largest single process, from wait4: python3 runs each command);
 * - `entourage runs`, `show`, `--help`;
 * - the baselines: `node -e 0`, and Codex CLI when ENTOURAGE_BENCH_CODEX names its binary
 *   (`npm i @openai/codex@0.169.0` in a scratch folder → node_modules/.bin/codex), against the same fake
 *   server (Responses API, `exec_command cat README.md`);
 * - with ENTOURAGE_BENCH_BEFORE naming another build's launcher (a checkout of the commit before a change,
 *   built: its bin/entourage), the same commands run by it too, "(before)", in the same rounds.
 *
 * Every round runs every command once, in turn (after one warm-up round), so all see the same machine;
 * ratios are taken round by round and their median printed. Printed, never asserted.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type FakeModelServer, startFakeModelServer } from "../test/fake-llm/index.ts";
import { fakeModel } from "../test/helpers/cli.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const ROOT = new URL("..", import.meta.url).pathname;
/** The command users run: the launcher (bin/entourage) that finds the Node 24 and starts bin/entourage.js. */
const BIN = join(ROOT, "bin", "entourage");
const TASK = "What does README.md say?";
const ROUNDS = Number(process.env.ENTOURAGE_BENCH_ROUNDS) || 7;
/** Another build's launcher, compared round by round (`(before)` rows). */
const BEFORE = process.env.ENTOURAGE_BENCH_BEFORE;

/**
 * Runs argv with stdin from /dev/null and output to files, and prints one JSON line: when it was started
 * (ms since the epoch), its wall time, its exit status and its peak RSS (wait4: the largest of the process
 * and the descendants it waited for). Node's child_process has no wait4.
 */
const RUSAGE = `
import json, os, sys, time
out, err, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.time()
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = (time.monotonic() - t0) * 1000
print(json.dumps({"startMs": start * 1000, "wallMs": wall, "code": os.waitstatus_to_exitcode(status), "rssKiB": usage.ru_maxrss}))
`;

interface Sample {
  wallMs: number;
  rssMiB: number;
  /** Start → the fake server's first request of this process. */
  firstRequestMs?: number;
  /** The first request's body, in bytes. */
  firstRequestBytes?: number;
  /** The last model request (the answer) → the process's end. */
  lastRequestToExitMs?: number;
}

interface Contender {
  label: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** The fake server it talks to, when it calls a model. */
  server?: FakeModelServer;
  /** Checks one finished run (its stdout); throws with what went wrong. */
  check?: (stdout: string) => void;
  samples: Sample[];
}

function timed(contender: Contender, scratch: string): Promise<Sample> {
  const out = join(scratch, "out");
  const err = join(scratch, "err");
  const seen = contender.server?.requests.length ?? 0;
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", RUSAGE, out, err, ...contender.argv], {
      cwd: contender.cwd,
      env: contender.env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let line = "";
    child.stdout.on("data", (d) => (line += d));
    child.on("error", (error) =>
      reject(new Error(`the start-up bench runs each command under python3 (for wait4): ${error.message}`)),
    );
    child.on("close", () => {
      try {
        const r = JSON.parse(line) as { startMs: number; wallMs: number; code: number; rssKiB: number };
        const stdout = readFileSync(out, "utf8");
        if (r.code !== 0) throw new Error(`exit ${r.code}\n${readFileSync(err, "utf8").slice(-2000)}`);
        contender.check?.(stdout);
        const requests = contender.server?.requests.slice(seen) ?? [];
        if (contender.server && requests.length !== 2)
          throw new Error(`${requests.length} model requests, expected 2 (one tool call, one answer)`);
        if (contender.server && !JSON.stringify(requests[1]?.body).includes("hello"))
          throw new Error("the second model request does not carry the tool's output (README.md says hello)");
        resolve({
          wallMs: r.wallMs,
          rssMiB: r.rssKiB / 1024,
          ...(requests[0]
            ? {
                firstRequestMs: requests[0].time - r.startMs,
                firstRequestBytes: JSON.stringify(requests[0].body).length,
                lastRequestToExitMs: r.startMs + r.wallMs - requests.at(-1)!.time,
              }
            : {}),
        });
      } catch (error) {
        reject(new Error(`${contender.label}: ${(error as Error).message}`));
      }
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : "—");
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");
/** The median of the round-by-round ratios a/b of one figure. */
const pairedRatio = (a: Contender, b: Contender | undefined, figure: (s: Sample) => number | undefined) => {
  if (!b) return Number.NaN;
  const ratios = a.samples.flatMap((s, i) => {
    const x = figure(s);
    const y = b.samples[i] ? figure(b.samples[i]!) : undefined;
    return x !== undefined && y !== undefined && y > 0 ? [x / y] : [];
  });
  return median(ratios);
};

function makeRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "README.md"), "hello\n");
  const git = (...a: string[]) =>
    execFileSync("git", ["-c", "user.name=b", "-c", "user.email=b@b", ...a], { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "init");
  return dir;
}

const readThenAnswer = (toolCall: { name: string; arguments: Record<string, unknown> }) => ({
  turns: [
    { text: "Let me look at the file.", toolCalls: [{ id: "call_read", ...toolCall }] },
    { text: "The file says hello." },
  ],
});

/** The run ended as succeeded: the last JSONL event is run.finished with that status. */
function succeeded(stdout: string): void {
  const last = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
    type?: string;
    data?: { status?: string };
  };
  if (last.type !== "run.finished" || last.data?.status !== "succeeded")
    throw new Error(`the run did not succeed: ${stdout.slice(-600)}`);
}

export async function startupBench(table: Table): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "entourage-bench-startup-"));
  // Codex refuses to set its sandbox helper up under a temporary folder: its home goes under ~/.cache.
  const codexHome = join(homedir(), ".cache", "entourage-bench", `codex-${process.pid}`);
  const servers: FakeModelServer[] = [];
  try {
    const repo = makeRepo(join(scratch, "repo"));
    const home = join(scratch, "home");
    mkdirSync(home, { mode: 0o700 });
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      ENTOURAGE_HOME: home,
      NO_COLOR: "1",
    };
    const serve = async (scenario: ReturnType<typeof readThenAnswer>) => {
      const server = await startFakeModelServer({ scenario, perConversation: true });
      servers.push(server);
      return server;
    };
    const reading = await serve(readThenAnswer({ name: "read_file", arguments: { path: "README.md" } }));
    const command = await serve(
      readThenAnswer({ name: "run_command", arguments: { command: "cat README.md" } }),
    );
    const node = (label: string, args: string[], extra: Partial<Contender> = {}): Contender => ({
      label,
      argv: args[0] === BIN ? args : [process.execPath, ...args],
      env,
      cwd: repo,
      samples: [],
      ...extra,
    });
    /** The same command run by the other build's launcher. */
    const beforeOf = new Map<Contender, Contender>();
    const before = (c: Contender): Contender[] => {
      if (!BEFORE) return [];
      const other = { ...c, label: `${c.label} (before)`, argv: [BEFORE, ...c.argv.slice(1)], samples: [] };
      beforeOf.set(c, other);
      return [other];
    };
    const baseline = node("node -e 0", ["-e", "0"]);
    const defaultMode = node(
      "entourage: the task, default mode (pipeline → Analyzer)",
      [BIN, "run", TASK, "--repo", repo, ...fakeModel(reading), "--json"],
      { server: reading, check: succeeded },
    );
    const singleMode = node(
      "entourage: the task, --mode single (run_command in the sandbox)",
      [BIN, "run", TASK, "--repo", repo, ...fakeModel(command), "--json", "--mode", "single"],
      { server: command, check: succeeded },
    );
    const codex = await codexContender(codexHome, repo, home, serve);
    const commands = [node("entourage runs", [BIN, "runs"]), node("entourage --help", [BIN, "--help"])];
    const contenders = [
      baseline,
      defaultMode,
      ...before(defaultMode),
      singleMode,
      ...(codex ? [codex] : []),
      ...commands.flatMap((c) => [c, ...before(c)]),
    ];

    // One warm-up round (page cache, the home's database), then the counted ones, every command in turn.
    for (const c of contenders) await timed(c, scratch);
    // `show` needs a run: the warm-up made some.
    const runId = execFileSync(BIN, ["runs", "--json", "--limit", "1"], { env, cwd: repo })
      .toString()
      .match(/run_[a-z0-9]+/)?.[0];
    if (!runId) throw new Error("start-up bench: no run to show after the warm-up");
    const show = node("entourage show <run>", [BIN, "show", runId]);
    for (const c of [show, ...before(show)]) {
      await timed(c, scratch);
      contenders.push(c);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) c.samples.push(await timed(c, scratch));
    }

    const wall = (s: Sample) => s.wallMs;
    const first = (s: Sample) => s.firstRequestMs;
    table(
      `Start-up and the two-turn task (whole processes, medians of ${ROUNDS} interleaved rounds; ratios round by round; goals: the task in the default mode ≤ 0.8× Codex CLI's wall and ≤ 100 MiB, runs/show/--help ≤ 2× node -e 0)`,
      contenders.map((c) => ({
        command: c.label,
        wall: ms(median(c.samples.map(wall))),
        "× node -e 0": ratio(pairedRatio(c, baseline, wall)),
        ...(BEFORE
          ? { "× before": beforeOf.has(c) ? ratio(pairedRatio(c, beforeOf.get(c), wall)) : "" }
          : {}),
        ...(codex ? { "× Codex wall": c.server ? ratio(pairedRatio(c, codex, wall)) : "" } : {}),
        "start → first request": c.server
          ? ms(median(c.samples.map((s) => s.firstRequestMs ?? Number.NaN)))
          : "",
        ...(codex ? { "× Codex": c.server ? ratio(pairedRatio(c, codex, first)) : "" } : {}),
        "answer → exit": c.server
          ? ms(median(c.samples.map((s) => s.lastRequestToExitMs ?? Number.NaN)))
          : "",
        "peak RSS": `${median(c.samples.map((s) => s.rssMiB)).toFixed(0)} MiB`,
        "first request": c.server
          ? `${(median(c.samples.map((s) => s.firstRequestBytes ?? Number.NaN)) / 1024).toFixed(1)} KiB`
          : "",
      })),
    );
    if (!codex)
      console.log(
        "(Codex CLI not compared: set ENTOURAGE_BENCH_CODEX to its binary, e.g. after `npm i @openai/codex@0.169.0` in a scratch folder: ENTOURAGE_BENCH_CODEX=$PWD/node_modules/.bin/codex)",
      );
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(scratch, { recursive: true, force: true });
    rmSync(codexHome, { recursive: true, force: true });
    try {
      rmdirSync(dirname(codexHome)); // ~/.cache/entourage-bench, when no other bench uses it
    } catch {
      // not empty, or never made
    }
  }
}

/** Codex CLI (`codex exec`) on the same task and fake server, when ENTOURAGE_BENCH_CODEX names it. */
async function codexContender(
  codexHome: string,
  repo: string,
  home: string,
  serve: (scenario: ReturnType<typeof readThenAnswer>) => Promise<FakeModelServer>,
): Promise<Contender | undefined> {
  const bin = process.env.ENTOURAGE_BENCH_CODEX;
  if (!bin) return undefined;
  const server = await serve(readThenAnswer({ name: "exec_command", arguments: { cmd: "cat README.md" } }));
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(codexHome, "config.toml"),
    [
      'model = "fake-coder"',
      'model_provider = "fake"',
      "[model_providers.fake]",
      'name = "fake"',
      `base_url = "${server.baseUrl}"`,
      'wire_api = "responses"',
      "",
    ].join("\n"),
  );
  const version = execFileSync(bin, ["--version"]).toString().trim();
  return {
    label: `${version} (codex exec)`,
    argv: [bin, "exec", "--skip-git-repo-check", TASK],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, CODEX_HOME: codexHome },
    cwd: repo,
    server,
    samples: [],
  };
}

if (import.meta.main) {
  const { printTable } = await import("./table.ts");
  await startupBench(printTable);
}
