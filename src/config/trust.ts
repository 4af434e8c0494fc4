/**
 * Workspace trust. A repository's `.entourage/config.json` is written by whoever wrote the repository (or
 * by a model, through a run the user applied). Its settings that run code on the user's machine or weaken
 * safety — plugins, MCP servers, the sandbox choice, the model endpoint, network, a setup command, looser
 * approvals — load only once the user trusts that repository, and that trust is keyed to the content of
 * the config file and the repository files it names: a changed file asks again. Everything else in the
 * file (test command, budgets, deny rules…) and the repository's text (instructions, lessons, agent files)
 * loads without trust.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../core/errors.ts";
import type { Config } from "./schema.ts";

/** One setting of the repository's config that waits for the user's trust, said for a person. */
export interface TrustItem {
  /** The config key, e.g. `plugins`, `mcpServers.github`, `approvalRules[2]`. */
  setting: string;
  /** Its value, short. */
  value: string;
  /** What it would do. */
  effect: string;
}

/** What a repository's config asks for, and whether the user trusts it as it is now. */
export interface ProjectTrust {
  /** The repository (real path): the key of its trust record. */
  repo: string;
  /** Its `.entourage/config.json`. */
  file: string;
  /** Settings that need trust; empty when the file asks for nothing of the kind (or does not exist). */
  items: TrustItem[];
  /** sha256 over the config file and the repository files it names (plugins, MCP servers' scripts). */
  fingerprint: string;
  /** The user trusts this repository with exactly this content. */
  trusted: boolean;
  /** The record exists but for other content: the file changed since the user trusted it. */
  changedSinceTrusted: boolean;
}

export function projectConfigPath(repo: string): string {
  return join(repo, ".entourage", "config.json");
}

const STRICTNESS: Record<Config["approval"], number> = { auto: 0, "ask-risky": 1, plan: 2, "ask-all": 3 };
const BUILTIN_IMAGES = new Set(["base", "node", "python", "go", "rust"]);
/** The user's own layers (their config file, ENTOURAGE_* variables, flags): what the repo is compared with. */
export type UserSettings = Partial<Pick<Config, "approval" | "workspaceQuotaMb" | "maxProcesses">>;

/**
 * The settings of a repository's config layer that need trust, in file order. Keys the user sets
 * themselves (environment, flags) are not asked about: the repository's value is not in force.
 */
export function settingsNeedingTrust(
  layer: Partial<Config>,
  user: UserSettings = {},
  overridden: ReadonlySet<string> = new Set(),
): TrustItem[] {
  const items: TrustItem[] = [];
  const add = (setting: string, value: string, effect: string) => items.push({ setting, value, effect });
  const set = (key: keyof Config) => layer[key] !== undefined && !overridden.has(key);
  for (const plugin of layer.plugins ?? [])
    add(
      "plugins",
      plugin,
      "a module loaded into Entourage: runs on your machine as you, outside the sandbox",
    );
  for (const [name, server] of Object.entries(layer.mcpServers ?? {})) {
    if (server.enabled === false) continue;
    const secrets = [...JSON.stringify([server.args, server.env, server.headers]).matchAll(/\$\{(\w+)\}/g)]
      .map((m) => m[1])
      .filter((v, i, all) => all.indexOf(v) === i);
    const reads = secrets.length ? `; passes $${secrets.join(", $")} from your environment to it` : "";
    if (server.command !== undefined)
      add(
        `mcpServers.${name}`,
        [server.command, ...(server.args ?? [])].join(" "),
        `an MCP server started on your machine as you, outside the sandbox${reads}`,
      );
    else add(`mcpServers.${name}`, server.url ?? "", `an MCP server the agents call over HTTP${reads}`);
  }
  if (set("sandbox"))
    add(
      "sandbox",
      layer.sandbox!,
      layer.sandbox === "subprocess"
        ? "turns the sandbox off: commands run on your machine as you"
        : `chooses the sandbox backend (${layer.sandbox}) instead of yours`,
    );
  if (set("image") && !BUILTIN_IMAGES.has(layer.image!))
    add("image", layer.image!, "runs the agents' commands in this local Docker image");
  if (set("provider"))
    add("provider", layer.provider!, "chooses the model provider, and so which of your API keys is used");
  if (set("baseUrl")) add("baseUrl", layer.baseUrl!, "sends your code, prompts and API key to this address");
  if (set("network") && layer.network === "on")
    add("network", "on", "gives every sandboxed command network access");
  if (set("setupNetwork") && layer.setupNetwork === "on")
    add("setupNetwork", "on", "gives the setup command network access");
  if (set("setupCommand")) add("setupCommand", layer.setupCommand!, "runs before the agents, without asking");
  if (set("approval") && STRICTNESS[layer.approval!] < STRICTNESS[user.approval ?? "ask-risky"])
    add("approval", layer.approval!, `asks you less than your own setting (${user.approval ?? "ask-risky"})`);
  if (set("approvalTimeoutDecision") && layer.approvalTimeoutDecision === "approve")
    add("approvalTimeoutDecision", "approve", "approves a request nobody answered in time");
  (layer.approvalRules ?? []).forEach((rule, i) => {
    if (rule.action !== "allow") return;
    const what = [rule.tool, rule.match, rule.risk && `risk ${rule.risk}`].filter(Boolean).join(" ");
    add(`approvalRules[${i}]`, `allow ${what}`, "runs these calls without asking you");
  });
  for (const path of set("toolchainPaths") ? (layer.toolchainPaths ?? []) : [])
    add("toolchainPaths", path, "binds this folder of your machine into the sandbox (read-only)");
  const quota = user.workspaceQuotaMb;
  if (set("workspaceQuotaMb") && quota !== undefined && layer.workspaceQuotaMb! > quota)
    add(
      "workspaceQuotaMb",
      String(layer.workspaceQuotaMb),
      `lets the run's workspace take more of your disk than your own quota (${quota} MB)`,
    );
  const processes = user.maxProcesses;
  if (set("maxProcesses") && processes !== undefined && layer.maxProcesses! > processes)
    add(
      "maxProcesses",
      String(layer.maxProcesses),
      `lets the run's commands start more processes than your own cap (${processes})`,
    );
  return items;
}

/** The keys of a layer that {@link settingsNeedingTrust} gates, stripped for an untrusted repository. */
export function withoutUntrusted(layer: Partial<Config>, user: UserSettings = {}): Partial<Config> {
  const gated = new Set(settingsNeedingTrust(layer, user).map((i) => i.setting.replace(/[.[].*$/, "")));
  const kept: Partial<Config> = {};
  for (const [key, value] of Object.entries(layer) as [keyof Config, unknown][]) {
    if (key === "approvalRules") {
      const rules = (value as Config["approvalRules"]).filter((r) => r.action !== "allow");
      if (rules.length) kept.approvalRules = rules;
    } else if (!gated.has(key)) {
      (kept as Record<string, unknown>)[key] = value;
    }
  }
  return kept;
}

const recordSchema = z.object({
  fingerprint: z.string(),
  trustedAt: z.string(),
  settings: z.array(z.string()),
});
const fileSchema = z.object({ version: z.literal(1), repos: z.record(z.string(), recordSchema) });
type TrustFile = z.infer<typeof fileSchema>;

function trustFilePath(home: string): string {
  return join(home, "trusted.json");
}

function readTrustFile(home: string): TrustFile {
  const path = trustFilePath(home);
  if (!existsSync(path)) return { version: 1, repos: {} };
  const parsed = fileSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success)
    throw new UserError(
      "trust_file_invalid",
      `${path} is not a trust file this version can read (${parsed.error.issues[0]?.message}). Move it away and trust your repositories again (entourage trust <dir>).`,
    );
  return parsed.data;
}

function writeTrustFile(home: string, file: TrustFile): void {
  const path = trustFilePath(home);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

export function repoKey(repo: string): string {
  try {
    return realpathSync(repo);
  } catch {
    return resolve(repo);
  }
}

/**
 * sha256 over the config file's bytes and every repository file it names that could run: plugin modules
 * and the files an MCP server's command and arguments point at (relative to its working directory or the
 * config file's folder).
 */
export function fingerprintProject(repo: string, layer: Partial<Config>, raw: Buffer | undefined): string {
  const hash = createHash("sha256").update(raw ?? "(no config file)");
  const configDir = dirname(projectConfigPath(repo));
  const named = new Set<string>(layer.plugins ?? []);
  for (const server of Object.values(layer.mcpServers ?? {})) {
    for (const word of [server.command, ...(server.args ?? [])]) {
      if (!word || !/[/.]/.test(word)) continue;
      for (const base of [server.cwd ?? configDir, repo]) named.add(resolve(base, word));
    }
  }
  for (const file of [...named].sort()) {
    const rel = relative(repo, file);
    if (rel.startsWith("..") || isAbsolute(rel)) continue; // outside the repository: not the repository's
    let content: Buffer | string = "(missing)";
    try {
      content = readFileSync(file);
    } catch {
      // a folder, missing, unreadable: its name still counts
    }
    hash.update(`\0${rel}\0`).update(content);
  }
  return hash.digest("hex");
}

/**
 * What `repo`'s config asks for and whether it is trusted. `layer` is the file's validated layer (paths
 * absolute); `raw` its bytes.
 */
export function assessTrust(
  home: string,
  repo: string,
  layer: Partial<Config>,
  raw: Buffer | undefined,
  user: UserSettings = {},
  overridden: ReadonlySet<string> = new Set(),
): ProjectTrust {
  const key = repoKey(repo);
  const fingerprint = fingerprintProject(repo, layer, raw);
  const record = readTrustFile(home).repos[key];
  // Plugin paths are absolute by now; a person reads them as the file wrote them, from the repository.
  const shown = layer.plugins
    ? { ...layer, plugins: layer.plugins.map((p) => (p.startsWith(`${repo}/`) ? relative(repo, p) : p)) }
    : layer;
  return {
    repo: key,
    file: projectConfigPath(key),
    items: settingsNeedingTrust(shown, user, overridden),
    fingerprint,
    trusted: record?.fingerprint === fingerprint,
    changedSinceTrusted: record !== undefined && record.fingerprint !== fingerprint,
  };
}

/** Records that the user trusts `trust.repo` with its config as it is now. */
export function recordTrust(home: string, trust: ProjectTrust): void {
  const file = readTrustFile(home);
  file.repos[trust.repo] = {
    fingerprint: trust.fingerprint,
    trustedAt: new Date().toISOString(),
    settings: trust.items.map((i) => `${i.setting}: ${i.value}`),
  };
  writeTrustFile(home, file);
}

/** Forgets the trust in `repo`; false when there was none. */
export function revokeTrust(home: string, repo: string): boolean {
  const file = readTrustFile(home);
  const key = repoKey(repo);
  if (!(key in file.repos)) return false;
  delete file.repos[key];
  writeTrustFile(home, file);
  return true;
}

/** Every trusted repository with when and what. */
export function listTrust(home: string): { repo: string; trustedAt: string; settings: string[] }[] {
  return Object.entries(readTrustFile(home).repos).map(([repo, r]) => ({ repo, ...r }));
}

/** The trust items as indented lines for a terminal or an error message. */
export function describeTrustItems(items: readonly TrustItem[]): string {
  const width = Math.min(24, Math.max(...items.map((i) => i.setting.length)));
  return items
    .map((i) => `  ${i.setting.padEnd(width)}  ${i.value}\n  ${" ".repeat(width)}  → ${i.effect}`)
    .join("\n");
}
