import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../core/index.ts";
import { type Config, configSchema } from "./schema.ts";
import {
  assessTrust,
  type ProjectTrust,
  projectConfigPath,
  type UserSettings,
  withoutUntrusted,
} from "./trust.ts";

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
  ENTOURAGE_MAX_PROCESSES: "maxProcesses",
};

const NUMERIC_FIELDS = new Set<keyof Config>(["maxSteps", "maxCostUsd", "workspaceQuotaMb", "maxProcesses"]);

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
    layer[field] = NUMERIC_FIELDS.has(field) ? Number(raw) : raw;
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
    maxProcesses:
      layers.findLast((l) => l.maxProcesses !== undefined)?.maxProcesses ??
      configSchema.shape.maxProcesses.parse(undefined),
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
