/**
 * What in a run's change needs a person's eyes before it lands in the checkout. Everything a model wrote
 * is untrusted; most of it is just code the user reviews as a diff. These paths are different: they change
 * how Entourage itself behaves next time (`.entourage/`, project instructions), run on someone's machine or
 * CI without anyone typing a command (CI files, git hooks, package scripts, build scripts), or reach outside
 * the repository (symlinks that leave it; new executables). `apply` lists them and asks first.
 */
import path from "node:path";
import { INSTRUCTION_FILES } from "../../agents/index.ts";
import type { RawChange } from "../../workspace/index.ts";

/** One path of the change that needs review, and why, said for a person. */
export interface ReviewItem {
  path: string;
  reason: string;
}

type ReadBlobs = (ids: string[]) => Promise<Map<string, Buffer>>;

const ABSENT = "000000";
const SYMLINK = "120000";
const EXECUTABLE = "100755";

/** npm runs these by itself (install, publish, pack), not only when asked for by name. */
const LIFECYCLE_SCRIPTS = new Set([
  "preinstall",
  "install",
  "postinstall",
  "prepare",
  "preprepare",
  "postprepare",
  "prepublish",
  "prepublishOnly",
  "prepack",
  "postpack",
  "dependencies",
]);

const CI_FILES: [RegExp, string][] = [
  [/^\.github\/(workflows|actions)\//, "GitHub Actions"],
  [/^\.gitlab-ci\.ya?ml$|^\.gitlab\/ci\//, "GitLab CI"],
  [/^\.circleci\//, "CircleCI"],
  [/^\.buildkite\//, "Buildkite"],
  [/^azure-pipelines\.ya?ml$|^\.azure-pipelines\//, "Azure Pipelines"],
  [/^bitbucket-pipelines\.yml$/, "Bitbucket Pipelines"],
  [/^Jenkinsfile$/, "Jenkins"],
  [/^\.travis\.yml$/, "Travis CI"],
  [/^\.drone\.ya?ml$/, "Drone"],
  [/^\.woodpecker(\.ya?ml|\/)/, "Woodpecker"],
  [/^appveyor\.ya?ml$|^\.appveyor\.ya?ml$/, "AppVeyor"],
];

const HOOK_FILES: [RegExp, string][] = [
  [/^\.husky\//, "a husky git hook"],
  [/^\.githooks\//, "a git hook (.githooks)"],
  [/^\.?lefthook(-local)?\.ya?ml$/, "lefthook's git hooks"],
  [/^\.pre-commit-config\.ya?ml$/, "pre-commit's git hooks"],
  [/^\.simple-git-hooks\.(json|js|cjs)$/, "simple-git-hooks' git hooks"],
];

/** The paths of `changes` that need review, in the change's order; empty when nothing does. */
export async function changesNeedingReview(
  changes: RawChange[],
  readBlobs: ReadBlobs,
): Promise<ReviewItem[]> {
  const items: ReviewItem[] = [];
  const add = (file: string, reason: string) => items.push({ path: file, reason });
  const wanted = changes.filter((c) => c.newMode === SYMLINK || isManifest(c.path) || c.path === CONFIG);
  const blobs = await readBlobs(
    wanted.flatMap((c) => [c.newBlob, c.oldBlob]).filter((id) => id && !/^0+$/.test(id)),
  );
  const text = (id: string) => blobs.get(id)?.toString("utf8");
  for (const change of changes) {
    const p = change.path;
    const removed = change.newMode === ABSENT ? " (removed)" : "";
    if (INSTRUCTION_FILES.includes(p))
      add(p, `project instructions every agent of later runs reads${removed}`);
    else if (p === CONFIG) add(p, describeConfig(text(change.newBlob)) + removed);
    else if (p.startsWith(".entourage/")) add(p, `${entourageFile(p)}${removed}`);
    const ci = CI_FILES.find(([re]) => re.test(p));
    if (ci) add(p, `CI configuration (${ci[1]}): runs on your CI, with its secrets, after a push${removed}`);
    const hook = HOOK_FILES.find(([re]) => re.test(p));
    if (hook) add(p, `${hook[1]}: runs on your machine when you commit or push${removed}`);
    if (change.newMode === ABSENT) continue;
    if (path.posix.basename(p) === "package.json") {
      const scripts = scriptChanges(text(change.oldBlob), text(change.newBlob));
      if (scripts) add(p, scripts);
    }
    if (path.posix.basename(p) === "build.rs" && change.oldMode === ABSENT)
      add(p, "a new Cargo build script: runs on your machine at every `cargo build` or `cargo test`");
    if (p === "setup.py" && change.oldMode === ABSENT)
      add(p, "a new setup.py: runs on your machine when pip installs the project");
    if (change.newMode === EXECUTABLE && change.oldMode !== EXECUTABLE)
      add(p, change.oldMode === ABSENT ? "a new executable file" : "becomes executable");
    if (change.newMode === SYMLINK) {
      const target = text(change.newBlob) ?? "";
      if (leavesRepository(p, target))
        add(p, `a symlink to ${target}, outside the repository: whatever reads it reads that`);
    }
  }
  return items;
}

const CONFIG = ".entourage/config.json";

function describeConfig(content: string | undefined): string {
  const base = "Entourage's settings for this repository";
  if (content === undefined) return base;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(content) as Record<string, unknown>;
  } catch {
    return `${base} (not valid JSON)`;
  }
  const named: string[] = [];
  if (Array.isArray(parsed.plugins) && parsed.plugins.length)
    named.push(`plugins: ${parsed.plugins.join(", ")}`);
  if (parsed.mcpServers && typeof parsed.mcpServers === "object")
    named.push(`MCP servers: ${Object.keys(parsed.mcpServers).join(", ")}`);
  for (const key of ["sandbox", "baseUrl", "setupCommand", "network", "approval"])
    if (parsed[key] !== undefined) named.push(`${key}: ${String(parsed[key])}`);
  const runs = named.length ? ` — ${named.join("; ")}` : "";
  return `${base}${runs}; those that run code stay off until you trust the repository (entourage trust)`;
}

function entourageFile(p: string): string {
  if (p.startsWith(".entourage/agents/")) return "an agent definition Entourage loads in later runs";
  if (p === ".entourage/memory.md") return "lessons every agent of later runs is told";
  if (/\.(m|c)?(j|t)sx?$/.test(p))
    return "code under .entourage/: runs on your machine as you if the settings name it as a plugin";
  return "a file under .entourage/, which changes how Entourage behaves in this repository";
}

function isManifest(p: string): boolean {
  return path.posix.basename(p) === "package.json";
}

/** The scripts package.json gains or changes, lifecycle scripts (npm runs them itself) first. */
function scriptChanges(before: string | undefined, after: string | undefined): string | undefined {
  const scriptsOf = (text: string | undefined): Record<string, string> => {
    try {
      const scripts = (JSON.parse(text ?? "{}") as { scripts?: unknown }).scripts;
      return scripts && typeof scripts === "object" ? (scripts as Record<string, string>) : {};
    } catch {
      return {};
    }
  };
  const old = scriptsOf(before);
  const now = scriptsOf(after);
  const changed = Object.keys(now)
    .filter((name) => old[name] !== now[name])
    .sort((a, b) => Number(LIFECYCLE_SCRIPTS.has(b)) - Number(LIFECYCLE_SCRIPTS.has(a)));
  if (changed.length === 0) return undefined;
  const shown = changed.map((name) => {
    const when = LIFECYCLE_SCRIPTS.has(name) ? ", which npm runs by itself on install" : "";
    return `"${name}": ${JSON.stringify(now[name])}${when}`;
  });
  return `scripts added or changed: ${shown.join("; ")}`;
}

/** An absolute target, or one whose `..` climb out of the repository from where the link sits. */
export function leavesRepository(linkPath: string, target: string): boolean {
  if (target.startsWith("/") || target.startsWith("~")) return true;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  return resolved === ".." || resolved.startsWith("../");
}

/** The list as the CLI and the API show it. */
export function describeReview(items: readonly ReviewItem[]): string {
  const width = Math.min(48, Math.max(...items.map((i) => i.path.length)));
  return items.map((i) => `  ${i.path.padEnd(width)}  ${i.reason}`).join("\n");
}
