import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { newId, UserError } from "../../core/index.ts";
import { createScriptedModel, type Model, type ScriptedTurn } from "../../llm/index.ts";
import type { ApprovalMode } from "../../orchestrator/index.ts";
import { detectTestCommand, Workspace } from "../../workspace/index.ts";
import { chooseSandbox, home, runDir } from "../compose.ts";
import { reportError } from "../main.ts";
import { startRun } from "./run.ts";

const DEMO_DIR = new URL("../../../demo/", import.meta.url);
const DEMO_TASK = "Fix the failing tests in src/date.js";

/**
 * The demo's model: a script that replays demo/pipeline.scenario.json, one turn per model request, in
 * order. It is not an LLM and is labelled `scripted` everywhere. `startTurn` lets a resumed demo run go
 * on where it stopped (one turn per completed step).
 */
export function createScriptedDemoModel(startTurn = 0): Model {
  const scenario = JSON.parse(readFileSync(new URL("pipeline.scenario.json", DEMO_DIR), "utf8")) as {
    turns: (ScriptedTurn & { expectMessageContains?: string[] })[];
  };
  const turns = scenario.turns;
  let next = startTurn;
  return createScriptedModel({
    id: "demo-pipeline",
    turns: turns.slice(startTurn).map(() => (request) => {
      const turn = turns[next++];
      if (!turn) throw new UserError("script_exhausted", "The demo script has no more turns.");
      // A script cannot read, but it must not claim what did not happen: if the tool results it expects
      // are missing (the tests do not behave as scripted on this machine), it stops and says so.
      const sent = JSON.stringify(request.messages);
      const missing = (turn.expectMessageContains ?? []).filter((text) => !sent.includes(text));
      if (missing.length > 0) {
        const expected = missing.map((m) => `"${m}"`).join(", ");
        return {
          text: `The demo script expected ${expected} in what it was sent and did not see it, so it stops here.`,
          toolCalls: [
            {
              name: "finish",
              arguments: {
                status: "failed",
                summary: `The scripted demo went off script: it expected ${expected}. The run's events show what the commands printed.`,
              },
            },
          ],
        };
      }
      return { text: turn.text, toolCalls: turn.toolCalls, usage: turn.usage };
    }),
  });
}

/** Copies the bundled sample repo into ENTOURAGE_HOME and makes it a git repo, so the demo never touches the user's files. */
function makeSampleRepo(): string {
  const dir = join(home(), "demo", `dates-${newId("repo").slice(5)}`);
  mkdirSync(dir, { recursive: true });
  cpSync(new URL("sample-repo/", DEMO_DIR), dir, { recursive: true });
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

/** `entourage demo`: the whole flow on a bundled sample repo with the scripted model; no API key needed. */
export async function demoCommand(flags: {
  sandbox?: "bwrap" | "docker" | "subprocess";
  approval?: ApprovalMode;
  json?: boolean;
}): Promise<number> {
  try {
    // Bundled, trusted code: on a machine with no isolating sandbox the demo may use subprocess, and says so.
    const sandbox = await chooseSandbox(flags.sandbox, "off", true);
    if (!flags.sandbox && sandbox.name === "subprocess") {
      sandbox.ref.warning =
        "no isolating sandbox (bubblewrap or Docker) works here, so the demo runs its bundled, trusted sample code with the subprocess backend (no isolation). Real runs never fall back like this.";
    }
    const repo = makeSampleRepo();
    const model = createScriptedDemoModel();
    const runId = newId("run");
    const dirs = runDir(runId);
    const workspace = await Workspace.create({ repo, dir: dirs.workspace });
    const approvalMode = flags.approval ?? "auto";
    const code = await startRun({
      runId,
      model,
      workspace,
      sandboxName: sandbox.name,
      sandboxOptions: { network: "off", timeoutMs: 120_000, env: {} },
      created: {
        task: DEMO_TASK,
        repo,
        workspace: dirs.workspace,
        mode: "pipeline",
        testCommand: await detectTestCommand(repo),
        model: { provider: model.provider, model: model.id, scripted: true },
        sandbox: sandbox.ref,
        budget: { maxSteps: 10 },
        approval: approvalMode,
      },
      approvalMode,
      approval: { approvalRules: [], approvalTimeoutDecision: "deny" },
      maxFixRounds: 3,
      yes: approvalMode === "auto",
      json: flags.json ?? false,
    });
    if (!flags.json) {
      process.stdout.write(
        `\nThe sample repo is ${repo} — untouched so far.\nSee the change: npx entourage diff ${runId}\nApply it:      npx entourage apply ${runId}\nWith a real model: npx entourage run "<task>" --repo <your repo>\n`,
      );
    }
    return code;
  } catch (error) {
    return reportError(error);
  }
}
