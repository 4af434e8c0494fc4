import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type ApprovalMode, newId, type SandboxBackendName } from "../../core/index.ts";
import { packagePath } from "../../core/package-files.ts";
import { detectTestCommand, Workspace } from "../../workspace/index.ts";
import { chooseSandbox, detectMounts, home, type MountConfig, mountsRef, runDir } from "../compose.ts";
import { createScriptedDemoModel } from "../demo-model.ts";
import { demoTour, TOUR_PACE } from "../demo-tour.ts";
import { reportError } from "../terminal/exit.ts";
import { selfCommand } from "../terminal/render.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";
import { startRun } from "./run.ts";

export { createScriptedDemoModel } from "../demo-model.ts";

const DEMO_DIR = packagePath("demo/");
const DEMO_TASK = "Fix the failing tests in src/date.js";

/** Copies the bundled sample repo into ENTOURAGE_HOME and makes it a git repo, so the demo never touches the user's files. */
function makeSampleRepo(): string {
  const dir = join(home(), "demo", `dates-${newId("repo").slice(5)}`);
  mkdirSync(dir, { recursive: true });
  cpSync(join(DEMO_DIR, "sample-repo"), dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      [
        "-c",
        "user.name=Entourage demo",
        "-c",
        "user.email=demo@entourage.invalid",
        "-c",
        "commit.gpgsign=false",
        ...args,
      ],
      {
        cwd: dir,
        stdio: "pipe",
      },
    );
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "Sample project with a failing test");
  return dir;
}

/** The bundled sample has no dependency folders; its tests run on the user's own toolchain. */
const DEMO_MOUNTS: MountConfig = { dependencyDirs: [], toolchainPaths: [], entourageRuntime: false };

/**
 * `entourage demo`: the whole flow on a bundled sample repo with the scripted model; no API key needed.
 * On a terminal it is a guided tour: the script is paced, the plan checkpoint and the first command wait
 * for the person's answer, and each stop says what they can do. With `--yes`, `--json` or no terminal it
 * is the fast path: everything approved, no pacing.
 */
export async function demoCommand(flags: {
  sandbox?: SandboxBackendName;
  approval?: ApprovalMode;
  /** `--yes`: approve everything (what `--approval auto` does). */
  yes?: boolean;
  json?: boolean;
  server?: boolean;
}): Promise<number> {
  try {
    // Bundled, trusted code: on a machine with no isolating sandbox the demo may use subprocess, and says so.
    const sandbox = await chooseSandbox(flags.sandbox, "off", true);
    if (!flags.sandbox && sandbox.name === "subprocess") {
      sandbox.ref.warning =
        "no isolating sandbox (bubblewrap or Docker) works here, so the demo runs its bundled, trusted sample code with the subprocess backend (no isolation). Real runs never fall back like this.";
    }
    const tour = !flags.yes && !flags.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
    const repo = makeSampleRepo();
    const model = createScriptedDemoModel(0, tour ? TOUR_PACE : undefined);
    const runId = newId("run");
    const dirs = runDir(runId);
    const workspace = await Workspace.create({ repo, dir: dirs.workspace });
    // The sample's tests run on the user's own toolchain, as a real run's would.
    const mounts = await detectMounts(workspace.repo, DEMO_MOUNTS, "off");
    // The tour asks where a real run asks by default (the plan, commands); the fast path approves all.
    const approvalMode = flags.yes ? "auto" : (flags.approval ?? (tour ? "ask-risky" : "auto"));
    const code = await startRun({
      label: "entourage demo",
      runId,
      model,
      workspace,
      sandboxName: sandbox.name,
      sandboxOptions: { network: "off", timeoutMs: 120_000, env: {}, mounts },
      created: {
        task: DEMO_TASK,
        repo,
        workspace: dirs.workspace,
        mode: "pipeline",
        testCommand: await detectTestCommand(repo),
        model: { provider: model.provider, model: model.id, scripted: true },
        sandbox: { ...sandbox.ref, ...mountsRef(mounts) },
        budget: { maxSteps: 10 },
        approval: approvalMode,
      },
      approvalMode,
      approval: { approvalRules: [], approvalTimeoutDecision: "deny" },
      maxFixRounds: 3,
      yes: approvalMode === "auto",
      json: flags.json ?? false,
      server: flags.server,
      guide: tour ? demoTour(makeStyle(colorEnabled(process.stdout))) : undefined,
    });
    if (!flags.json) {
      const self = selfCommand();
      process.stdout.write(
        `\nThe sample repo is ${repo} — untouched so far.\nSee the change: ${self} diff ${runId}\nApply it:      ${self} apply ${runId}\nWith a real model: ${self} run "<task>" --repo <your repo>\n`,
      );
    }
    return code;
  } catch (error) {
    return reportError(error);
  }
}
