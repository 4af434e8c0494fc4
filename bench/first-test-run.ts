/**
 * First test run per language per sandbox, for `npm run bench`: a tiny JS (node --test), Python (pytest),
 * Go (go test) and Rust (cargo test) project, each copied fresh, its test command run twice through the
 * docker backend with the language image, through the bwrap backend (the user's toolchain, as a run gets it:
 * `detectToolchain`), and bare with spawn — interleaved, so all three see the same machine
 * load. The first run pays the cold caches (Go's build cache, cargo's target/); the second shows the steady
 * cost. What cannot run says why ("n/a (…)"). Timings are printed, never asserted.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { errorMessage } from "../src/core/index.ts";
import { connectDocker } from "../src/sandbox/backends/docker/client.ts";
import { inspectImage } from "../src/sandbox/backends/docker/image.ts";
import {
  IMAGE_LANGUAGES,
  IMAGE_RECIPES,
  type ImageLanguage,
} from "../src/sandbox/backends/docker/image-recipes.ts";
import { createBackend } from "../src/sandbox/backends/index.ts";
import {
  DEFAULT_LIMITS,
  detectToolchain,
  type Sandbox,
  type SandboxBackendName,
} from "../src/sandbox/index.ts";
import { TINY_PROJECTS, writeFiles } from "../test/helpers/language-projects.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

/** One way to run a command in a project copy: create (timed apart), run, and release. */
interface Runner {
  label: string;
  /** Why it cannot run here, or undefined. */
  unavailable?: string;
  start(dir: string): Promise<{ createMs: number; run: (argv: string[]) => Promise<Outcome> }>;
  release(): Promise<void>;
}

type Outcome = { ok: true; ms: number } | { ok: false; why: string };

const { toolchain } = detectToolchain({ env: process.env, execPath: process.execPath });

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The first line that says what went wrong, for "n/a (…)". */
const firstLine = (output: string) =>
  output
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "")
    ?.slice(0, 90) ?? "no output";

function bare(): Runner {
  return {
    label: "bare spawn (host toolchain)",
    async start(dir) {
      return {
        createMs: 0,
        run: (argv) =>
          new Promise<Outcome>((resolve) => {
            const started = performance.now();
            let output = "";
            const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
            child.stdout.on("data", (d: Buffer) => (output += d));
            child.stderr.on("data", (d: Buffer) => (output += d));
            child.on("error", (error) => resolve({ ok: false, why: errorMessage(error) }));
            child.on("close", (code) =>
              resolve(
                code === 0
                  ? { ok: true, ms: performance.now() - started }
                  : { ok: false, why: `exit ${code}: ${firstLine(output)}` },
              ),
            );
          }),
      };
    },
    async release() {},
  };
}

async function sandboxed(name: SandboxBackendName, language: ImageLanguage): Promise<Runner> {
  const backend = createBackend(name);
  const image = name === "docker" ? IMAGE_RECIPES[language].image : undefined;
  const label = image ? `docker (${image.replace("entourage/sandbox:", "")})` : `${name} (host toolchain)`;
  const probe = await backend.probe();
  let unavailable = probe.available ? undefined : probe.reason;
  if (!unavailable && image) {
    const present = await inspectImage(await connectDocker(), image).catch(() => undefined);
    if (!present) unavailable = `image not built: entourage sandbox build-image ${language}`;
  }
  let sandbox: Sandbox | undefined;
  return {
    label,
    unavailable,
    async start(dir) {
      const started = performance.now();
      sandbox = await backend.create({
        workspace: dir,
        network: "off",
        limits: { ...DEFAULT_LIMITS, timeoutMs: 600_000 },
        image,
        // As a run's: the user's toolchain for host backends (docker brings its image's own).
        toolchain: image ? undefined : toolchain,
      });
      const createMs = performance.now() - started;
      const sb = sandbox;
      return {
        createMs,
        run: async (argv) => {
          const result = await sb.exec(argv);
          return result.exitCode === 0
            ? { ok: true, ms: result.durationMs }
            : { ok: false, why: `exit ${result.exitCode}: ${firstLine(result.output)}` };
        },
      };
    },
    async release() {
      await sandbox?.destroy();
      sandbox = undefined;
    },
  };
}

export async function firstTestRunBench(table: Table): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(path.join(tmpdir(), "entourage-bench-first-"));
  const rows: Row[] = [];
  try {
    for (const language of IMAGE_LANGUAGES) {
      const project = TINY_PROJECTS[language];
      const runners = [bare(), await sandboxed("docker", language), await sandboxed("bwrap", language)];
      const results = new Map<Runner, { create?: number; runs: Outcome[] }>();
      const live = new Map<Runner, (argv: string[]) => Promise<Outcome>>();
      for (const runner of runners) {
        results.set(runner, { runs: [] });
        if (runner.unavailable) continue;
        const dir = writeFiles(mkdtempSync(path.join(root, `${language}-`)), project.files);
        try {
          const { createMs, run } = await runner.start(dir);
          results.get(runner)!.create = createMs;
          live.set(runner, run);
        } catch (error) {
          runner.unavailable = errorMessage(error);
        }
      }
      // Interleaved: every runner's first run, then every runner's second run.
      for (let round = 0; round < 2; round++) {
        for (const [runner, run] of live) {
          const previous = results.get(runner)!.runs[0];
          if (previous && !previous.ok) continue;
          results.get(runner)!.runs.push(await run(project.test));
        }
      }
      for (const runner of runners) await runner.release();
      const baseline = results.get(runners[0]!)!.runs;
      for (const runner of runners) {
        const { create, runs } = results.get(runner)!;
        const [first, second] = runs;
        const cell = (outcome: Outcome | undefined, base: Outcome | undefined) => {
          if (runner.unavailable) return `n/a (${runner.unavailable.slice(0, 90)})`;
          if (!outcome) return "—";
          if (!outcome.ok) return `n/a (${outcome.why})`;
          const ratio =
            base?.ok && runner !== runners[0] ? ` (${(outcome.ms / base.ms).toFixed(1)}× bare)` : "";
          return `${seconds(outcome.ms)}${ratio}`;
        };
        rows.push({
          language: `${language}: ${project.test.join(" ")}`,
          sandbox: runner.label,
          create: runner.unavailable || create === undefined ? "—" : seconds(create),
          "first run": cell(first, baseline[0]),
          "second run": cell(second, baseline[1]),
        });
      }
    }
    table("First test run per language per sandbox (tiny project, fresh copy; bare runs interleaved)", rows);
    console.log(`\n(first-test-run benchmark: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
