/**
 * The default run against the world: real repositories (their own toolchains and test suites, git-ignored
 * dependencies) driven by a model server that knows nothing of Entourage (test/world/persona-server.ts),
 * misbehaving as real models do. Each case runs the CLI as a user does and checks what a user would: the
 * bug is fixed, the repository's own tests prove it (run by Entourage, not claimed by the model), and the
 * checkout is untouched until `apply`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { cliEnv, jsonLines, removeDir, runCli, tempDir, treeHash } from "../helpers/cli.ts";
import { missingDependency } from "../support/sandbox/sandbox.conformance-support.ts";
import { type Persona, startPersonaServer } from "./persona-server.ts";
import { makeWorldRepo, missingToolchain, runTests, type WorldRepoKind } from "./repos.ts";

type Event = { type: string; runId: string; seq: number; agentId?: string; data: Record<string, unknown> };

/** Whether this machine has the repository's toolchain (else skipped, or failed under ENTOURAGE_CI=1). */
function hasToolchain(t: TestContext, kind: WorldRepoKind): boolean {
  const missing = missingToolchain(kind);
  if (missing) missingDependency(t, missing);
  return missing === undefined;
}

const cleanup: string[] = [];
after(() => {
  for (const dir of cleanup) removeDir(dir);
});

interface WorldRun {
  code: number;
  stderr: string;
  events: Event[];
  runId: string;
  home: string;
  repo: { dir: string; testCommand: string; recipe: { file: string; wrong: string } };
  requests: number;
}

async function worldRun(
  kind: WorldRepoKind,
  options: { persona: Persona; sandbox: string; task?: string; mode?: string; extra?: string[] },
): Promise<WorldRun> {
  const home = tempDir("home");
  const parent = tempDir("world");
  cleanup.push(home, parent);
  const repo = await makeWorldRepo(kind, { parent });
  const server = await startPersonaServer({ recipe: repo.recipe, persona: options.persona });
  try {
    const before = treeHash(repo.dir);
    const task = options.task ?? `Fix the bug in ${repo.recipe.file}: its test fails.`;
    const run = await runCli(
      [
        "run",
        task,
        "--repo",
        repo.dir,
        "--provider",
        "openai-compatible",
        "--base-url",
        server.baseUrl,
        "--model",
        "world-coder",
        "--sandbox",
        options.sandbox,
        "--mode",
        options.mode ?? "pipeline",
        "--yes",
        "--json",
        "--no-server",
        ...(options.extra ?? []),
      ],
      { env: cliEnv(home), timeoutMs: 300_000 },
    );
    assert.equal(treeHash(repo.dir), before, "the checkout is untouched until apply");
    const events = jsonLines(run.stdout) as Event[];
    return {
      code: run.code ?? -1,
      stderr: run.stderr,
      events,
      runId: String(events[0]?.runId),
      home,
      repo,
      requests: server.requests.length,
    };
  } finally {
    await server.close();
  }
}

const ofType = (run: WorldRun, type: string) => run.events.filter((e) => e.type === type);
const finished = (run: WorldRun) =>
  ofType(run, "run.finished").at(-1)?.data as { status: string; summary: string };
const verification = (run: WorldRun) =>
  ofType(run, "verification.ended").at(-1)?.data as { status: string; reason: string } | undefined;

/** The run fixed the bug: succeeded, verified by the repo's own tests, and `apply` makes them pass at home. */
async function assertFixedAndApplied(run: WorldRun): Promise<void> {
  assert.equal(run.code, 0, `${run.stderr}\n${finished(run)?.summary}`);
  assert.equal(finished(run)?.status, "succeeded", finished(run)?.summary);
  assert.equal(verification(run)?.status, "passed", JSON.stringify(verification(run)));
  // (Checked by reading, not by running the tests there: cargo would write Cargo.lock into the checkout.)
  const wrong = readFileSync(join(run.repo.dir, run.repo.recipe.file), "utf8");
  assert.ok(wrong.includes(run.repo.recipe.wrong), "the user's checkout still has the bug before apply");
  const applied = await runCli(["apply", run.runId], { env: cliEnv(run.home) });
  assert.equal(applied.code, 0, applied.stderr);
  const tests = runTests(run.repo);
  assert.equal(tests.exitCode, 0, `after apply the repository's own tests pass:\n${tests.output}`);
}

/**
 * The sandboxes each language case runs in: bwrap on the user's toolchain, docker and gvisor (docker on
 * gVisor's runsc) on the language image.
 */
const SANDBOXES = ["bwrap", "docker", "gvisor"] as const;

const CASES: { kind: WorldRepoKind; persona: Persona; what: string; only?: string }[] = [
  { kind: "mocha", persona: { planInText: true, forgetFinish: true }, what: "plan in text, no finish" },
  {
    kind: "vitest",
    persona: { absolutePaths: true, sloppyWhitespace: true },
    what: "absolute paths, sloppy edit",
  },
  { kind: "pytest", persona: { forgetFinish: true, falseSuccess: true }, what: "no finish, claims success" },
  {
    kind: "go",
    persona: { planInText: true, skipTests: true, falseSuccess: true },
    what: "never runs the tests",
  },
  { kind: "cargo", persona: { forgetFinish: true, absolutePaths: true }, what: "no finish, absolute paths" },
];

for (const sandbox of SANDBOXES) {
  describe(`real repositories, a model that does not know Entourage (${sandbox})`, () => {
    for (const c of CASES.filter((x) => !x.only || x.only === sandbox)) {
      it(`${c.kind}: fixes the bug and proves it with the repo's own tests (${c.what})`, async (t) => {
        if (!hasToolchain(t, c.kind)) return;
        // Debian bookworm's nodejs (the node image) is 18; mocha 12 and vitest 4 need Node >= 20, so JS
        // repositories run in the base image, whose Node is current (chosen explicitly, as a user would).
        const js = c.kind === "mocha" || c.kind === "vitest";
        const extra = sandbox !== "bwrap" && js ? ["--image", "base"] : [];
        const run = await worldRun(c.kind, { persona: c.persona, sandbox, extra });
        await assertFixedAndApplied(run);
        const fallbacks = ofType(run, "protocol.fallback").map((e) => e.data.kind);
        if (c.persona.planInText) assert.ok(fallbacks.includes("plan_from_text"), fallbacks.join());
        if (c.persona.forgetFinish) assert.ok(fallbacks.includes("report_from_text"), fallbacks.join());
        assert.equal(ofType(run, "run.routed")[0]?.data.route, "change");
      });
    }
  });
}

describe("the outcome comes from the world, not from the model", () => {
  it("a wrong fix claimed as a success fails the run, in every mode", async (t) => {
    if (!hasToolchain(t, "go")) return;
    for (const mode of ["single", "pipeline"]) {
      const run = await worldRun("go", {
        persona: { wrongFix: true, falseSuccess: true, skipTests: true },
        sandbox: "bwrap",
        mode,
        extra: ["--max-steps", "12"],
      });
      assert.equal(run.code, 1, `${mode}: ${finished(run)?.summary}`);
      assert.equal(finished(run)?.status, "failed", mode);
      assert.match(finished(run)?.summary ?? "", /go test \.\/\.\.\. exited 1/, mode);
    }
  });

  it("a question is answered by the Analyzer alone: no plan, no edits, no verification", async (t) => {
    if (!hasToolchain(t, "pytest")) return;
    const run = await worldRun("pytest", {
      persona: { oneCallThenDone: true },
      sandbox: "bwrap",
      task: "List the files in this repo",
    });
    assert.equal(run.code, 0, finished(run)?.summary);
    assert.equal(finished(run)?.status, "succeeded");
    assert.equal(ofType(run, "run.routed")[0]?.data.route, "answer");
    assert.equal(ofType(run, "plan.proposed").length, 0);
    assert.deepEqual(
      ofType(run, "agent.started").map((e) => e.data.name),
      ["pipeline", "analyzer"],
    );
    assert.deepEqual(ofType(run, "diff.ready")[0]?.data.files, []);
    assert.equal(verification(run), undefined);
  });
});
