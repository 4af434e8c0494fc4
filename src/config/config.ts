import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { UserError } from "../core/index.ts";

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
  ENTOURAGE_APPROVAL: "approval",
  ENTOURAGE_MAX_STEPS: "maxSteps",
  ENTOURAGE_MODE: "mode",
  ENTOURAGE_MAX_COST_USD: "maxCostUsd",
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
    layer[field] = field === "maxSteps" || field === "maxCostUsd" ? Number(raw) : raw;
  }
  return layer;
}

export interface LoadConfigOptions {
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
  const userPath = join(options.home, "config.json");
  const layers: Partial<Config>[] = [validate(readLayer(userPath), userPath)];
  if (options.repo) {
    const projectPath = join(options.repo, ".entourage", "config.json");
    layers.push(validate(readLayer(projectPath), projectPath));
  }
  layers.push(validate(fromEnv(options.env ?? process.env), "the ENTOURAGE_* environment variables"));
  const flags = Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined));
  layers.push(validate(flags, "the command-line flags"));
  // Rules accumulate across layers (last match wins), everything else is overridden.
  const approvalRules = layers.flatMap((l) => l.approvalRules ?? []);
  return configSchema.parse({ ...Object.assign({}, ...layers), approvalRules });
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
