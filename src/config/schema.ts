/** The configuration's shape: every setting, its type, default and meaning (what `config.json` may hold). */
import { z } from "zod";
import {
  APPROVAL_DECISIONS,
  APPROVAL_MODES,
  ORCHESTRATION_MODES,
  RISKS,
  RULE_ACTIONS,
  SANDBOX_BACKENDS,
} from "../core/vocabulary.ts";

const riskSchema = z.enum(RISKS);

/** One MCP server: a command started over stdio, or a streamable HTTP URL. */
export const mcpServerSchema = z
  .object({
    command: z.string().min(1).optional().describe("Executable of a stdio server (looked up on PATH)"),
    args: z.array(z.string()).optional().describe(`Its arguments; \${VAR} is replaced from your environment`),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .optional()
      .describe(
        `Its environment: of yours only PATH, HOME, USER, LOGNAME, SHELL and TERM are passed on; \${VAR} in a value is replaced from your environment`,
      ),
    cwd: z
      .string()
      .optional()
      .describe("Working directory, relative to the config file; default: the run's workspace copy"),
    url: z.url().optional().describe("URL of a streamable HTTP server"),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe(`HTTP headers, e.g. Authorization; \${VAR} is replaced from your environment`),
    risk: riskSchema.default("execute").describe("Risk class of its tools for the approval policy"),
    toolRisk: z
      .record(z.string(), riskSchema)
      .optional()
      .describe("Risk class per tool (by the server's own tool name), overriding risk"),
    agents: z
      .array(z.string())
      .optional()
      .describe(
        "Built-in or custom agents that get its tools (besides agents whose allow-list names them); default: general, implementer, tester",
      ),
    enabled: z.boolean().default(true).describe("false: configured but not started"),
    startupTimeoutSeconds: z.number().positive().default(30).describe("Time to start and list its tools"),
    timeoutSeconds: z.number().positive().default(300).describe("Time limit of one tool call"),
  })
  .strict()
  .refine((s) => (s.command === undefined) !== (s.url === undefined), {
    message: "give either command (a stdio server) or url (a streamable HTTP server)",
  });
export type McpServerConfig = z.infer<typeof mcpServerSchema>;

/** The one configuration schema. Every field is described; `entourage config schema` prints it as JSON Schema. */
export const configSchema = z
  .object({
    provider: z
      .enum(["openai", "anthropic", "google", "openai-compatible"])
      .optional()
      .describe("Model provider; inferred from the API key variables when unset"),
    model: z.string().min(1).optional().describe("Model id, e.g. gpt-4.1 or claude-sonnet-4-5"),
    baseUrl: z
      .url()
      .optional()
      .describe("Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio)"),
    sandbox: z
      .enum(SANDBOX_BACKENDS)
      .optional()
      .describe(
        "Sandbox backend: bwrap, docker, gvisor (docker on gVisor's runsc runtime) or subprocess (no isolation); default: bwrap where it works, else docker",
      ),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Docker sandbox image: node, python, go, rust, base, or a local image name; default: the language image matching the repository when it is built, else base",
      ),
    approval: z.enum(APPROVAL_MODES).default("ask-risky").describe("When to ask before a tool call runs"),
    mode: z
      .enum(ORCHESTRATION_MODES)
      .default("pipeline")
      .describe("pipeline: Analyzer → plan → Implementer ⇄ Tester → Refactorer; single: one general agent"),
    testCommand: z
      .string()
      .min(1)
      .optional()
      .describe("The project's test command; detected from its files when unset"),
    verify: z
      .boolean()
      .default(true)
      .describe(
        "Run the test command in the sandbox at the end of a run that changed code and decide success from its exit code",
      ),
    setupCommand: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Run once per workspace before the agents, in the sandbox, e.g. `npm ci` or `pip install -e .`",
      ),
    setupNetwork: z
      .enum(["off", "on"])
      .default("off")
      .describe("Network access for the setup command only (e.g. to download dependencies)"),
    maxFixRounds: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(3)
      .describe("Implementer ⇄ Tester rounds after the first"),
    maxSteps: z
      .number()
      .int()
      .positive()
      .max(10_000)
      .default(50)
      .describe("Model steps per agent before it is stopped"),
    maxTokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Token budget (input + output) for the whole run"),
    maxCostUsd: z.number().positive().optional().describe("Cost budget in USD for the whole run"),
    commandTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(300)
      .describe("Default wall-clock limit of one command in the sandbox"),
    workspaceQuotaMb: z
      .number()
      .int()
      .positive()
      .default(2048)
      .describe(
        "Disk a run's commands may fill, in MB: the workspace plus the sandbox's HOME. A command that goes over is stopped and the agent told; no single file may grow past it (RLIMIT_FSIZE)",
      ),
    maxProcesses: z
      .number()
      .int()
      .min(16)
      .max(65536)
      .default(512)
      .describe(
        "Processes and threads a run's sandbox may hold at once (bwrap and docker: a pids cgroup; gvisor: RLIMIT_NPROC inside gVisor; subprocess: a pids cgroup where one can be made, else not enforced). A fork past it fails and the agent is told",
      ),
    modelIdleTimeoutSeconds: z
      .number()
      .positive()
      .default(60)
      .describe("A model stream silent for this long is ended and retried"),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(5)
      .describe("Attempts per model call on 429/5xx/network errors"),
    network: z.enum(["off", "on"]).default("off").describe("Network access inside the sandbox"),
    approvalRules: z
      .array(
        z
          .object({
            tool: z.string().min(1).describe("Tool name or glob, e.g. run_command or *"),
            match: z
              .string()
              .optional()
              .describe('Glob over the main argument (command, path), e.g. "npm test*"'),
            risk: riskSchema.optional(),
            action: z.enum(RULE_ACTIONS),
          })
          .strict(),
      )
      .default([])
      .describe(
        "Ordered approval rules; the last match wins. User-file rules come first, then the project's, then flags",
      ),
    approvalTimeoutSeconds: z
      .number()
      .positive()
      .optional()
      .describe("Answer an approval request automatically after this long (see approvalTimeoutDecision)"),
    approvalTimeoutDecision: z
      .enum(APPROVAL_DECISIONS)
      .exclude(["edit"])
      .default("deny")
      .describe("The answer when an approval times out"),
    sandboxEnv: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .default({})
      .describe(
        "Extra environment variables for sandboxed commands (secret-looking names are always dropped)",
      ),
    dependencyDirs: z
      .array(
        z
          .string()
          .regex(/^[^/\0]+$/)
          .refine((n) => n !== "." && n !== ".." && n !== ".git"),
      )
      .default(["node_modules", ".venv", "venv", "vendor", "target", "bower_components", "__pypackages__"])
      .describe(
        "Names of git-ignored dependency folders (at any depth) mounted read-only into the run's sandbox from your checkout; [] turns it off",
      ),
    toolchainPaths: z
      .array(z.string().regex(/^(\/|~\/)/))
      .default([])
      .describe(
        "Extra host folders (absolute or ~/…) bound read-only into bwrap sandboxes, for tools your PATH reaches only through links; never HOME or a credentials folder",
      ),
    entourageRuntime: z
      .boolean()
      .default(false)
      .describe(
        "Run sandboxed commands on the Node that runs Entourage (first on PATH) instead of your own toolchain",
      ),
    mcpServers: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/), mcpServerSchema)
      .default({})
      .describe(
        "MCP servers whose tools the agents may use, by name; their tools are named <server>__<tool>. They run outside the sandbox, as you",
      ),
    plugins: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "TypeScript/JavaScript plugin modules, relative to the config file; loaded at run start (outside the sandbox)",
      ),
    pipeline: z
      .object({
        after: z
          .partialRecord(
            z.enum(["analyze", "test", "refactor"]),
            z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)),
          )
          .describe(
            "Agents run as extra phases after a stage, in order, e.g. { refactor: [security-reviewer] }",
          ),
      })
      .strict()
      .optional()
      .describe("Pipeline mode: extra phases with custom agents"),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
