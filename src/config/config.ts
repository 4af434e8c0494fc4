import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../core/index.ts";
import {
  assessTrust,
  type ProjectTrust,
  projectConfigPath,
  type UserSettings,
  withoutUntrusted,
} from "./trust.ts";

const riskSchema = z.enum(["read", "write", "execute", "network", "destructive"]);

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
      .enum(["bwrap", "docker", "subprocess"])
      .optional()
      .describe("Sandbox backend; default: bwrap where it works, else docker"),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Docker sandbox image: node, python, go, rust, base, or a local image name; default: the language image matching the repository when it is built, else base",
      ),
    approval: z
      .enum(["auto", "ask-risky", "ask-all", "plan"])
      .default("ask-risky")
      .describe("When to ask before a tool call runs"),
    mode: z
      .enum(["pipeline", "single", "dynamic"])
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
            risk: z.enum(["read", "write", "execute", "network", "destructive"]).optional(),
            action: z.enum(["allow", "ask", "deny"]),
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
      .enum(["approve", "deny"])
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

/** Environment variables that map onto config fields. */
const ENV_FIELDS: Record<string, keyof Config> = {
  ENTOURAGE_PROVIDER: "provider",
  ENTOURAGE_MODEL: "model",
  ENTOURAGE_BASE_URL: "baseUrl",
  ENTOURAGE_SANDBOX: "sandbox",
  ENTOURAGE_IMAGE: "image",
  ENTOURAGE_APPROVAL: "approval",
  ENTOURAGE_MAX_STEPS: "maxSteps",
  ENTOURAGE_MODE: "mode",
  ENTOURAGE_MAX_COST_USD: "maxCostUsd",
  ENTOURAGE_WORKSPACE_QUOTA_MB: "workspaceQuotaMb",
};

function readLayer(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UserError(
      "config_unreadable",
      `Cannot read the config file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new Error("the top level must be an object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      "config_invalid",
      `The config file ${path} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function validate(layer: Record<string, unknown>, source: string): Partial<Config> {
  const result = configSchema.partial().safeParse(layer);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join(".") || "(top level)";
    throw new UserError(
      "config_invalid",
      `Invalid setting "${field}" in ${source}: ${issue?.message ?? "invalid"}`,
    );
  }
  // Keep only what this layer sets: a partial schema still fills in defaults, which would otherwise
  // put every default back over the layers below.
  const data = result.data as Record<string, unknown>;
  return Object.fromEntries(Object.keys(layer).map((key) => [key, data[key]])) as Partial<Config>;
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(ENV_FIELDS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    layer[field] =
      field === "maxSteps" || field === "maxCostUsd" || field === "workspaceQuotaMb" ? Number(raw) : raw;
  }
  return layer;
}

export interface LoadConfigOptions {
  /**
   * The repository's settings that need trust (src/config/trust.ts): "if-trusted" (default) loads them
   * when the user trusts the file as it is now; "safe-only" never loads them.
   */
  projectSettings?: "if-trusted" | "safe-only";
  /** ENTOURAGE_HOME: holds the user file `config.json`. */
  home: string;
  /** The repo whose `.entourage/config.json` is the project layer, if any. */
  repo?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Record<string, unknown>;
}

/** Merges defaults < user file < project file < ENTOURAGE_* env < flags, validating each layer with its source named. */
export function loadConfig(options: LoadConfigOptions): Config {
  const { user, env, flags } = userLayers(options);
  const layers: Partial<Config>[] = [user];
  if (options.repo) {
    const { layer, trust } = projectLayer(options.repo, options.home, { user, env, flags });
    const load = options.projectSettings !== "safe-only" && (trust.trusted || trust.items.length === 0);
    layers.push(load ? layer : withoutUntrusted(layer, userSettings(user, env, flags)));
  }
  layers.push(env, flags);
  // Rules and plugins accumulate across layers (last match wins), MCP servers merge by name (a later
  // layer's server replaces one of the same name), everything else is overridden.
  const approvalRules = layers.flatMap((l) => l.approvalRules ?? []);
  const plugins = [...new Set(layers.flatMap((l) => l.plugins ?? []))];
  const mcpServers = Object.assign({}, ...layers.map((l) => l.mcpServers ?? {}));
  return configSchema.parse({ ...Object.assign({}, ...layers), approvalRules, plugins, mcpServers });
}

/** The user's own layers: their config file, the ENTOURAGE_* variables, the flags. */
function userLayers(options: LoadConfigOptions): Record<"user" | "env" | "flags", Partial<Config>> {
  const flags = Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined));
  return {
    user: fileLayer(join(options.home, "config.json")),
    env: validate(fromEnv(options.env ?? process.env), "the ENTOURAGE_* environment variables"),
    flags: validate(flags, "the command-line flags"),
  };
}

function userSettings(...layers: Partial<Config>[]): UserSettings {
  return {
    approval: layers.findLast((l) => l.approval !== undefined)?.approval,
    workspaceQuotaMb:
      layers.findLast((l) => l.workspaceQuotaMb !== undefined)?.workspaceQuotaMb ??
      configSchema.shape.workspaceQuotaMb.parse(undefined),
  };
}

/** A repository's `.entourage/config.json`: its validated layer (paths absolute) and its bytes. */
export function readProjectLayer(repo: string): { layer: Partial<Config>; raw: Buffer | undefined } {
  const path = projectConfigPath(repo);
  let raw: Buffer | undefined;
  try {
    raw = readFileSync(path);
  } catch {
    raw = undefined; // missing (or unreadable: fileLayer says which)
  }
  return { layer: fileLayer(path), raw };
}

/**
 * What the repository's config asks for that needs trust, and whether the user trusts it as it is now;
 * undefined without a repository. Keys the user sets in the environment or by flag are not asked about.
 */
export function loadProjectTrust(options: LoadConfigOptions): ProjectTrust | undefined {
  return options.repo ? projectLayer(options.repo, options.home, userLayers(options)).trust : undefined;
}

function projectLayer(
  repo: string,
  home: string,
  { user, env, flags }: Record<"user" | "env" | "flags", Partial<Config>>,
): { layer: Partial<Config>; trust: ProjectTrust } {
  const { layer, raw } = readProjectLayer(repo);
  const overridden = new Set([...Object.keys(env), ...Object.keys(flags)]);
  return { layer, trust: assessTrust(home, repo, layer, raw, userSettings(user, env, flags), overridden) };
}

/** A config file's layer, with its paths (plugins, MCP servers' cwd) made absolute from its directory. */
function fileLayer(path: string): Partial<Config> {
  const layer = validate(readLayer(path), path);
  const dir = dirname(path);
  if (layer.plugins) layer.plugins = layer.plugins.map((p) => resolve(dir, p));
  if (layer.mcpServers) {
    layer.mcpServers = Object.fromEntries(
      Object.entries(layer.mcpServers).map(([name, server]) => [
        name,
        server.cwd === undefined ? server : { ...server, cwd: resolve(dir, server.cwd) },
      ]),
    );
  }
  return layer;
}

/** The schema as JSON Schema, for editors. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: "input" });
}

/**
 * Appends a rule to the project's `.entourage/config.json` (created if missing), keeping everything else
 * in the file as it was. Used for "always allow this pattern".
 */
export function saveProjectRule(repo: string, rule: Config["approvalRules"][number]): string {
  const path = join(repo, ".entourage", "config.json");
  const current = readLayer(path);
  const rules = Array.isArray(current.approvalRules) ? current.approvalRules : [];
  const next = { ...current, approvalRules: [...rules, rule] };
  validate(next, path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(next, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
