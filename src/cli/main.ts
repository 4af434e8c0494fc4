import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { UserError } from "../core/errors.ts";
import { APPROVAL_MODES, ORCHESTRATION_MODES, RUN_STATUSES, SANDBOX_BACKENDS } from "../core/vocabulary.ts";
import { setStoreFlag } from "./store-choice.ts";
import { EXIT, reportError } from "./terminal/exit.ts";

const SANDBOX_HELP =
  "sandbox backend: bwrap (Linux namespaces, default where it works), docker, gvisor (docker on gVisor's runsc runtime: its own kernel in user space), or subprocess (NO isolation: commands run as you, on your machine; for development only)";

function approvalOption(help = "when to ask before a tool call runs"): Option {
  return new Option("--approval <mode>", help).choices(APPROVAL_MODES);
}

function sandboxOption(): Option {
  return new Option("--sandbox <backend>", SANDBOX_HELP).choices(SANDBOX_BACKENDS);
}

function imageOption(): Option {
  return new Option(
    "--image <name>",
    "docker sandbox image: node, python, go, rust, base, or any local image (default: the language image matching the repository when built, else base)",
  );
}

/** Options shared by `run` and `demo`. */
/** --provider, --model, --base-url: for a new run, or for the rest of an existing one (resume, fork, rewind). */
function modelOptions(cmd: Command, existing = false): Command {
  const from = existing ? " to continue on (recorded as model.changed; default: the run's own)" : "";
  return cmd
    .option("--provider <name>", `model provider: openai, anthropic, google, openai-compatible${from}`)
    .option("--model <id>", `model id, e.g. gpt-4.1, claude-sonnet-4-5, qwen2.5-coder${from}`)
    .option(
      "--base-url <url>",
      `base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter)${from}`,
    );
}

/** How a run is made and governed: `run` and `acp` (which applies them to every session's run). */
function runEngineOptions(cmd: Command): Command {
  return modelOptions(cmd)
    .addOption(sandboxOption())
    .addOption(imageOption())
    .addOption(approvalOption())
    .addOption(
      new Option(
        "--mode <mode>",
        "pipeline (Analyzer → plan → Implementer ⇄ Tester → Refactorer, default), dynamic (a planner delegates, in parallel where it can) or single (one agent)",
      ).choices(ORCHESTRATION_MODES),
    )
    .option("--test-command <cmd>", "the project's test command (default: detected from its files)")
    .option(
      "--no-verify",
      "do not run the test command at the end to decide success (the run is then marked not verified)",
    )
    .option("--setup <cmd>", "run once in the sandbox before the agents, e.g. 'npm ci' (setupCommand)")
    .option("--setup-network", "give the setup command network access (only it; setupNetwork)")
    .option("--max-steps <n>", "model steps per agent before it is stopped", parsePositiveInt)
    .option(
      "--workspace-quota <mb>",
      "disk the run's commands may fill, in MB (workspaceQuotaMb, default 2048)",
      parsePositiveInt,
    )
    .option(
      "--max-processes <n>",
      "processes the run's sandbox may hold at once (maxProcesses, default 512)",
      parsePositiveInt,
    )
    .option("--max-tokens <n>", "token budget for the whole run", parsePositiveInt)
    .option("--max-cost <usd>", "cost budget in USD for the whole run", parsePositiveNumber)
    .option(
      "--allow <rule>",
      "approval rule: allow TOOL[:GLOB], e.g. 'run_command:npm test*' (repeatable)",
      collect,
      [],
    )
    .option("--ask <rule>", "approval rule: ask before TOOL[:GLOB] (repeatable)", collect, [])
    .option(
      "--deny <rule>",
      "approval rule: deny TOOL[:GLOB], e.g. 'run_command:rm -rf *' (repeatable)",
      collect,
      [],
    )
    .option("--yes", "approve every tool call without asking (non-interactive use)")
    .option(
      "--without-repo-settings",
      "run without the repository's settings that need trust (plugins, MCP servers, sandbox, endpoint…) instead of asking or refusing",
    );
}

function runOptions(cmd: Command): Command {
  return runEngineOptions(cmd)
    .option("--json", "print the run's events as JSONL on stdout instead of the live view")
    .option("--no-server", "do not serve the HTTP API (127.0.0.1) while the run is live");
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`Expected a positive integer, got "${value}".`);
  return n;
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`Expected a positive number, got "${value}".`);
  return n;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("entourage")
    .description(
      "Multi-agent coding orchestrator: every step visible, risky actions approved by you, all code sandboxed.",
    )
    .version(process.env.npm_package_version ?? "0.1.0", "-V, --version")
    .usage('[options] [command]  |  entourage "<task>" [run options]')
    .addHelpText(
      "after",
      '\nA task alone runs it, like `run`: entourage "Fix the failing test" --repo . — and `entourage` alone on a\nterminal asks for one.',
    )
    .showHelpAfterError("(run with --help for usage)")
    .option(
      "--store <url>",
      "the event store: a postgres:// URL (PostgreSQL, shared by several hosts) or a SQLite file path; default: ENTOURAGE_DATABASE_URL, else $ENTOURAGE_HOME/entourage.db",
    )
    .hook("preAction", (root) => setStoreFlag(root.opts().store as string | undefined))
    .exitOverride();

  runOptions(
    program
      .command("run")
      .description("run a coding task on a repository; your checkout is untouched until you apply the result")
      .argument("<task>", "what to do, in plain words")
      .option("--repo <dir>", "the repository to work on", "."),
  ).action(async (task: string, opts) =>
    setExit(await (await import("./commands/run.ts")).runCommand(task, opts)),
  );

  program
    .command("demo")
    .description(
      "the whole flow on a bundled sample repo with a scripted model (labelled as such): no API key needed",
    )
    .addOption(sandboxOption())
    .addOption(
      approvalOption(
        "when to ask before a tool call runs (default for the demo: ask-risky on a terminal, where it is a guided tour; auto otherwise)",
      ),
    )
    .option("--yes", "approve every tool call without asking, as run --yes does (--approval auto)")
    .option("--json", "print the run's events as JSONL")
    .option("--no-server", "do not serve the HTTP API (127.0.0.1) while the run is live")
    .action(async (opts) => setExit(await (await import("./commands/demo.ts")).demoCommand(opts)));

  runEngineOptions(
    program
      .command("acp")
      .description(
        "serve the Agent Client Protocol on stdin/stdout for editors (Zed…): each session is a run on its directory, watched and steered from the editor, attach and the dashboard at once",
      ),
  )
    .option("--no-server", "do not serve the HTTP API (127.0.0.1) for the sessions' runs")
    .action(async (opts) => setExit(await (await import("./commands/acp.ts")).acpCommand(opts)));

  modelOptions(
    program
      .command("eval")
      .description(
        "run a set of tasks (SWE-bench-shaped JSONL: repo, base_commit, problem_statement, FAIL_TO_PASS, PASS_TO_PASS) and judge each run by its tests: resolved rate, cost, tokens, time",
      )
      .argument("<tasks>", "the task file: JSONL, or a JSON array (see README: Evaluating)"),
  )
    .option("--concurrency <n>", "tasks run at once", parsePositiveInt, 2)
    .addOption(
      new Option("--mode <mode>", "orchestration mode of every run (over a task's own mode)").choices(
        ORCHESTRATION_MODES,
      ),
    )
    .addOption(sandboxOption())
    .addOption(imageOption())
    .option(
      "--test-command <template>",
      "test command for tasks without test_command: {tests} is replaced by the test ids (shell-quoted), {tests_regex} by one pattern ^(a|b)$",
    )
    .option(
      "--setup <cmd>",
      "for tasks without setup_command: run in the sandbox before the agents and before judging",
    )
    .option("--setup-network", "give the setup command network access")
    .option("--max-steps <n>", "model steps per agent before it is stopped", parsePositiveInt)
    .option("--max-tokens <n>", "token budget for each run", parsePositiveInt)
    .option("--max-cost <usd>", "cost budget in USD for each run", parsePositiveNumber)
    .option("--json", "print the results as JSON instead of the table")
    .option("--out <file>", "also write the results as JSON to this file")
    .action(async (file: string, opts) =>
      setExit(await (await import("./commands/eval.ts")).evalCommand(file, opts)),
    );

  program
    .command("runs")
    .description("list runs: id, status, task, duration, tokens, cost")
    .addOption(new Option("--status <status>", "only runs with this status").choices(RUN_STATUSES))
    .option("--limit <n>", "at most this many", parsePositiveInt, 30)
    .option("--json", "print JSON")
    .action(async (opts) => setExit(await (await import("./commands/runs.ts")).runsCommand(opts)));

  program
    .command("show")
    .description("show a run's events, human-readable or as JSONL")
    .argument("<run-id>")
    .option("--json", "print the events as JSONL")
    .option("--full", "show every line of command output")
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/show.ts")).showCommand(runId, opts)),
    );

  program
    .command("export")
    .description(
      "send a run's trace to an OpenTelemetry receiver (OTLP/HTTP, GenAI conventions), derived from its event log: the same trace ids every time",
    )
    .argument("<run-id>")
    .option("--otlp", "as OpenTelemetry traces (OTLP/HTTP JSON)")
    .option(
      "--endpoint <url>",
      "the receiver's base URL, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    .option("--json", "print the OTLP JSON on stdout instead of sending it")
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/export.ts")).exportCommand(runId, opts)),
    );

  program
    .command("diff")
    .description("print the change a run made (unified diff)")
    .argument("<run-id>")
    .option("--stat", "only the list of changed files")
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/diff.ts")).diffCommand(runId, opts)),
    );

  program
    .command("apply")
    .description(
      "write a run's change into your checkout (refused if the files changed there since the run started); asks before changes that need review",
    )
    .argument("<run-id>")
    .option(
      "--accept-risky",
      "also write the changes that need review (.entourage/, AGENTS.md, CI files, git hooks, package scripts, new executables, symlinks leaving the repository) without asking",
    )
    .option("--abort", "undo an interrupted apply of this run: every file back exactly as it was")
    .action(async (runId: string, opts: { acceptRisky?: boolean; abort?: boolean }) =>
      setExit(await (await import("./commands/apply.ts")).applyCommand(runId, opts)),
    );

  modelOptions(
    program
      .command("resume")
      .description(
        "continue a run whose process stopped (crash, kill, Ctrl-C, its model unreachable) from its event log",
      )
      .argument("<run-id>"),
    true,
  )
    .option("--yes", "approve every tool call without asking")
    .addOption(approvalOption())
    .option("--without-repo-settings", "continue without the repository's settings that need trust")
    .option("--json", "print the run's new events as JSONL")
    .option("--no-server", "do not serve the HTTP API (127.0.0.1) while the run is live")
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/resume.ts")).resumeCommand(runId, opts)),
    );

  modelOptions(
    program
      .command("rewind")
      .description(
        "put a run's workspace and agent context back to an earlier event (its checkpoint); then resume",
      )
      .argument("<run-id>"),
    true,
  )
    .requiredOption("--to <seq>", "the event to go back to (see: entourage show <run-id>)", parseSeq)
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/rewind.ts")).rewindCommand(runId, opts)),
    );

  modelOptions(
    program
      .command("fork")
      .description(
        "start a new run from any event of an old one, optionally with new guidance; the old run is left intact",
      )
      .argument("<run-id>")
      .argument("[guidance]", "a message for the agent that continues"),
    true,
  )
    .requiredOption("--at <seq>", "the event to branch from", parseSeq)
    .option("--yes", "approve every tool call without asking")
    .option("--json", "print the new run's events as JSONL")
    .action(async (runId: string, guidance: string | undefined, opts) =>
      setExit(await (await import("./commands/fork.ts")).forkCommand(runId, guidance, opts)),
    );

  program
    .command("serve")
    .description(
      "run the engine as a server: start, watch and steer runs over the HTTP API (OpenAPI at /openapi.json); with --store postgres://… runs go to a queue that `entourage worker`s drive",
    )
    .option(
      "--host <address>",
      "address to listen on; beyond loopback every route but /health needs the token",
      "127.0.0.1",
    )
    .option("--port <n>", "port to listen on", parsePort, 4317)
    .option(
      "--require-token",
      "the token on every route but /health even on loopback (behind a reverse proxy that terminates TLS)",
    )
    .action(async (opts) => setExit(await (await import("./commands/serve.ts")).serveCommand(opts)));

  program
    .command("worker")
    .description(
      "take runs from the team's queue (--store postgres://…) and drive them on this machine, with its sandboxes",
    )
    .option("--concurrency <n>", "runs driven at once", parsePositiveInt, 2)
    .action(async (opts) => setExit(await (await import("./commands/worker.ts")).workerCommand(opts)));

  program
    .command("attach")
    .description(
      "watch a run live from a server (entourage serve, or a run's own server) and steer it from this terminal",
    )
    .argument("<run-id>")
    .option(
      "--url <url>",
      "the server (default: the one driving the run on this machine, else http://127.0.0.1:4317)",
    )
    .action(async (runId: string, opts) =>
      setExit(await (await import("./commands/attach.ts")).attachCommand(runId, opts)),
    );

  program
    .command("trust")
    .description(
      "trust a repository's own settings that run code or weaken safety (plugins, MCP servers, sandbox, model endpoint, looser approvals); shows what loads",
    )
    .argument("[dir]", "the repository", ".")
    .option("--revoke", "no longer trust it")
    .option("--list", "list trusted repositories and what each loads")
    .option("--json", "with --list: print JSON")
    .action(async (dir: string, opts) =>
      setExit(await (await import("./commands/trust.ts")).trustCommand(dir, opts)),
    );

  memoryCommands(program, setExit);

  const deploy = program
    .command("deploy")
    .description("the team deployment (compose.yaml: server, workers, PostgreSQL)");
  deploy
    .command("build-image")
    .description(
      "build the team deployment's image locally (entourage/entourage:<version>, on a Debian runtime with PostgreSQL and Node; no registry) and the workers' sandbox image",
    )
    .option("--rebuild", "build even if up-to-date images exist")
    .option("--json", "print the result as JSON")
    .action(async (opts) =>
      setExit(await (await import("./commands/deploy.ts")).deployBuildImageCommand(opts)),
    );

  const sandbox = program.command("sandbox").description("probe and prepare sandboxes");
  sandbox
    .command("exec")
    .description(
      "run one command exactly as an agent's run_command would (same backend, same limits); exits with its code",
    )
    .addOption(sandboxOption().makeOptionMandatory())
    .requiredOption("--workspace <dir>", "the directory mounted read-write as the workspace")
    .option(
      "--repo <dir>",
      "mount this checkout's git-ignored dependency folders (node_modules, .venv, …) read-only into the workspace, as a run would",
    )
    .option("--memory <size>", "memory limit incl. swap, e.g. 512m")
    .option("--pids <n>", "process limit", parsePositiveInt)
    .option("--cpu-seconds <n>", "CPU time limit", parsePositiveInt)
    .option(
      "--timeout <seconds>",
      "wall-clock limit; the whole process tree is killed (exit 124)",
      parsePositiveNumber,
    )
    .addOption(
      new Option("--network <mode>", "network inside the sandbox").choices(["off", "on"]).default("off"),
    )
    .addOption(imageOption())
    .option("--runtime <runtime>", "OCI runtime (docker), e.g. runsc")
    .argument("<command...>", "the command and its arguments, after --")
    .action(async (command: string[], opts) =>
      setExit(await (await import("./commands/sandbox.ts")).sandboxExecCommand(command, opts)),
    );
  sandbox
    .command("build-image")
    .description(
      "build a Docker sandbox image locally from Debian packages: the default (entourage/sandbox:bookworm), a language's (node, python, go, rust) or all; skipped when the present image has the same content hash",
    )
    .addArgument(
      new Argument("[which]", "which image").choices(["base", "node", "python", "go", "rust", "all"]),
    )
    .option("--image <name>", "image name to build (one image only)")
    .option("--rebuild", "build even if an up-to-date image exists")
    .option("--json", "print the result as JSON")
    .action(async (which: string | undefined, opts) =>
      setExit(
        await (await import("./commands/sandbox-build-image.ts")).sandboxBuildImageCommand({
          ...opts,
          which,
        }),
      ),
    );

  program
    .command("completion")
    .description(
      "print the shell completion script: bash, zsh or fish (commands, flags, their values, run ids)",
    )
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .addHelpText(
      "after",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh's own ${fpath[1]}, printed for the user
      '\nInstall: bash: source <(entourage completion bash) in ~/.bashrc · zsh: entourage completion zsh > "${fpath[1]}/_entourage" · fish: entourage completion fish > ~/.config/fish/completions/entourage.fish',
    )
    .action(async (shell: string) =>
      setExit((await import("./commands/completion.ts")).completionCommand(program, shell)),
    );

  program
    .command("doctor")
    .description(
      "what works here: bubblewrap, docker, cgroups, the sandbox runs would use, and what each runs for a repository",
    )
    .option(
      "--repo <dir>",
      "the repository to check toolchains for (default: the current directory, if a checkout)",
    )
    .option("--json", "print JSON")
    .action(async (opts) => setExit(await (await import("./commands/doctor.ts")).doctorCommand(opts)));

  return program;
}

/** `entourage memory …`: the repo's lessons (.entourage/memory.md) and the review of a run's proposals. */
function memoryCommands(program: Command, setExit: (code: number) => void): void {
  const load = () => import("./commands/memory.ts");
  const memory = program
    .command("memory")
    .description("lessons learned from your corrections, kept in .entourage/memory.md in the repo");
  const repoOption = (cmd: Command) => cmd.option("--repo <dir>", "the repository", ".");
  const conflictOptions = (cmd: Command) =>
    cmd
      .option("--force", "save it even if it duplicates a saved lesson")
      .option("--keep-both", "keep it next to saved lessons it may contradict")
      .option("--replace", "replace the saved lessons it may contradict");
  repoOption(
    memory.command("list").description("list the lessons every agent of a run on this repo is given"),
  )
    .option("--json", "print JSON")
    .action(async (opts) => setExit(await (await load()).memoryListCommand(opts)));
  conflictOptions(
    repoOption(memory.command("add").description("add a lesson").argument("<text>", "one short sentence")),
  ).action(async (text: string, opts) => setExit(await (await load()).memoryAddCommand(text, opts)));
  repoOption(memory.command("rm").description("remove a lesson").argument("<id>", "e.g. l_ab12")).action(
    async (id: string, opts) => setExit(await (await load()).memoryRemoveCommand(id, opts)),
  );
  conflictOptions(
    repoOption(
      memory.command("edit").description("change a lesson's text").argument("<id>").argument("<text>"),
    ),
  ).action(async (id: string, text: string, opts) =>
    setExit(await (await load()).memoryEditCommand(id, text, opts)),
  );
  memory
    .command("review")
    .description("accept, edit or reject the lessons a run proposed (answers are read from stdin)")
    .argument("<run-id>")
    .option("--accept-all", "accept every proposal that does not clash with a saved lesson")
    .option("--reject-all", "reject every proposal")
    .action(async (runId: string, opts) => setExit(await (await load()).memoryReviewCommand(runId, opts)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`expected a port number (0-65535), got "${value}"`);
  return n;
}

function parseSeq(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected an event number (0 or more), got "${value}"`);
  return n;
}

/** Runs the CLI; resolves with the process exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    const task = argv.length === 2 ? await askForTask() : undefined;
    if (task === "")
      return reportError(new UserError("empty_task", 'No task given. Try: entourage "Fix the failing test"'));
    await program.parseAsync(withRunImplied(program, task === undefined ? argv : [...argv, task]));
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every usage mistake exits 2 (commander already printed the message).
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return EXIT.ok;
      return EXIT.usage;
    }
    return reportError(error);
  }
}

/**
 * `entourage runs | head -1`: when the reader of stdout (or stderr) goes away, stop at once and quietly with the
 * status a shell shows for a process killed by SIGPIPE (141), as any Unix tool does — no stack trace.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(EXIT.sigpipe);
      throw error;
    });
  }
}

/**
 * `entourage "Fix the failing test" --repo .` is `entourage run …`, as the agent CLIs people know take a bare
 * prompt: a first word that is no command and has a space in it is a task. A single unknown word stays an
 * unknown command (a typo of `runs` must not start a run); `entourage run <word>` runs a one-word task.
 */
export function withRunImplied(program: Command, argv: string[]): string[] {
  const first = argv[2];
  if (first === undefined || first.startsWith("-") || !/\s/.test(first.trim())) return argv;
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  return known.has(first) ? argv : [...argv.slice(0, 2), "run", ...argv.slice(2)];
}

/** `entourage` alone on a terminal asks what to do (in this folder); elsewhere it prints the usage. */
async function askForTask(): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    process.stdout.write(
      `entourage — agents that work on ${process.cwd()} in a sandbox; your checkout changes only when you apply.\n`,
    );
    return (await rl.question("What should they do? ")).trim();
  } finally {
    rl.close();
  }
}
