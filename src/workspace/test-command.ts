import type { Dirent } from "node:fs";
import { lstat, readdir, readFile, realpath } from "node:fs/promises";
import path from "node:path";
import { isWithin } from "./confine.ts";

/** A command that runs the project's tests, and which files it was inferred from. */
export interface TestCommand {
  command: string;
  /** Why this command, for people and agents: e.g. "package.json scripts.test (pnpm-lock.yaml → pnpm)". */
  source: string;
}

/** Marker files larger than this are not read (a package.json of megabytes is not a project manifest). */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** How deep and how wide the search for Python test files goes: enough for `tests/unit/test_x.py`. */
const MAX_SCAN_DEPTH = 3;
const MAX_SCAN_ENTRIES = 5000;
const SKIPPED_DIRS = new Set([
  "node_modules",
  "__pycache__",
  "venv",
  "env",
  "site-packages",
  "build",
  "dist",
  "target",
  "vendor",
]);
const NPM_PLACEHOLDER = /no test specified/;

/**
 * Infers how to run the project's tests in `dir` from its files alone: nothing is executed, nothing is
 * installed, and a symlink is read only when it stays inside `dir`. Only the top directory's manifests
 * count (a monorepo's root `test` script is what runs everything). First match wins, in this order:
 *
 * 1. package.json `scripts.test` (not npm's placeholder), run with the package manager named by the
 *    `packageManager` field, else by the lockfile (pnpm, yarn, bun, npm), else npm;
 * 2. pytest, when it is configured (pytest.ini, `[tool.pytest.ini_options]`, `[pytest]`/`[tool:pytest]`,
 *    conftest.py) or a tests directory holds `test_*.py` and pytest is a declared dependency;
 * 3. go.mod → `go test ./...`;
 * 4. Cargo.toml → `cargo test`;
 * 5. a bun lockfile without a test script → `bun test` (bun's built-in runner);
 * 6. Python `test*.py` files → unittest discovery;
 * 7. a Makefile with a `test` target → `make test`.
 *
 * Explicit test configuration comes before a language's default runner, and the Makefile comes last
 * because a `test` target often wraps one of the above with extra setup an agent cannot see.
 */
export async function detectTestCommand(dir: string): Promise<TestCommand | undefined> {
  const project = await ProjectFiles.open(dir);
  return (
    (await fromPackageJson(project)) ??
    (await fromPytest(project)) ??
    ((await project.isFile("go.mod")) ? { command: "go test ./...", source: "go.mod" } : undefined) ??
    ((await project.isFile("Cargo.toml")) ? { command: "cargo test", source: "Cargo.toml" } : undefined) ??
    (await fromBunRunner(project)) ??
    (await fromUnittest(project)) ??
    (await fromMakefile(project))
  );
}

/**
 * A few lines for an agent's prompt: the languages the project's files suggest and how to run its tests.
 * Reads files only, like `detectTestCommand`.
 */
export async function describeProject(dir: string): Promise<string> {
  const [languages, test] = await Promise.all([detectLanguages(dir), detectTestCommand(dir)]);
  const lines = [
    languages.length > 0 ? `Languages: ${languages.join(", ")}.` : "Languages: none recognised.",
    test
      ? `Tests: \`${test.command}\` — from ${test.source}.`
      : "Tests: no test command found; look for one in the README or CI configuration.",
  ];
  return lines.join("\n");
}

/** Languages whose marker files are at the top of the project, in a stable order. */
export async function detectLanguages(dir: string): Promise<string[]> {
  const project = await ProjectFiles.open(dir);
  const has = async (...names: string[]) =>
    (await Promise.all(names.map((n) => project.isFile(n)))).some(Boolean);
  const checks: [string, () => Promise<boolean>][] = [
    ["TypeScript", () => has("tsconfig.json", "deno.json")],
    ["JavaScript", async () => (await has("package.json")) && !(await has("tsconfig.json"))],
    [
      "Python",
      () => has("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile", "pytest.ini"),
    ],
    ["Go", () => has("go.mod")],
    ["Rust", () => has("Cargo.toml")],
    ["Ruby", () => has("Gemfile")],
    ["Java/Kotlin", () => has("pom.xml", "build.gradle", "build.gradle.kts")],
    ["C/C++", () => has("CMakeLists.txt", "meson.build")],
  ];
  const found = await Promise.all(checks.map(async ([name, check]) => ((await check()) ? name : "")));
  return found.filter((name) => name !== "");
}

// ── detectors ───────────────────────────────────────────────────────────────────────────────────────

async function fromPackageJson(project: ProjectFiles): Promise<TestCommand | undefined> {
  const pkg = await readPackageJson(project);
  const script = pkg?.scripts?.test;
  if (typeof script !== "string" || script.trim() === "" || NPM_PLACEHOLDER.test(script)) return undefined;
  const manager = await packageManager(project, pkg);
  const command = manager.name === "bun" ? "bun run test" : `${manager.name} test`;
  return { command, source: `package.json scripts.test (${manager.why})` };
}

async function fromBunRunner(project: ProjectFiles): Promise<TestCommand | undefined> {
  const pkg = await readPackageJson(project);
  if (!pkg) return undefined;
  const manager = await packageManager(project, pkg);
  if (manager.name !== "bun") return undefined;
  return {
    command: "bun test",
    source: `no scripts.test; ${manager.why}, whose built-in test runner is used`,
  };
}

interface PackageJson {
  scripts?: Record<string, unknown>;
  packageManager?: unknown;
}

async function readPackageJson(project: ProjectFiles): Promise<PackageJson | undefined> {
  const text = await project.read("package.json");
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as PackageJson) : undefined;
  } catch {
    return undefined; // a broken package.json is the agent's to fix, not a reason to fail detection
  }
}

const LOCKFILES: [file: string, manager: string][] = [
  ["pnpm-lock.yaml", "pnpm"],
  ["yarn.lock", "yarn"],
  ["bun.lockb", "bun"],
  ["bun.lock", "bun"],
  ["package-lock.json", "npm"],
  ["npm-shrinkwrap.json", "npm"],
];
const MANAGERS = new Set(["npm", "pnpm", "yarn", "bun"]);

/** `packageManager` (corepack's field) is a declaration; a lockfile is evidence; npm is the default. */
async function packageManager(
  project: ProjectFiles,
  pkg: PackageJson | undefined,
): Promise<{ name: string; why: string }> {
  const declared = typeof pkg?.packageManager === "string" ? pkg.packageManager : "";
  const name = declared.split("@")[0] ?? "";
  if (MANAGERS.has(name)) return { name, why: `packageManager ${declared} → ${name}` };
  for (const [file, manager] of LOCKFILES) {
    if (await project.isFile(file)) return { name: manager, why: `${file} → ${manager}` };
  }
  return { name: "npm", why: "no lockfile → npm" };
}

const PYTEST = "python3 -m pytest -q";

async function fromPytest(project: ProjectFiles): Promise<TestCommand | undefined> {
  if (await project.isFile("pytest.ini")) return { command: PYTEST, source: "pytest.ini" };
  const configs: [file: string, section: RegExp, label: string][] = [
    ["pyproject.toml", /^\s*\[tool\.pytest\.ini_options\]/m, "[tool.pytest.ini_options]"],
    ["tox.ini", /^\s*\[(tool:)?pytest\]/m, "[pytest]"],
    ["setup.cfg", /^\s*\[tool:pytest\]/m, "[tool:pytest]"],
  ];
  for (const [file, section, label] of configs) {
    if (section.test((await project.read(file)) ?? "")) {
      return { command: PYTEST, source: `${file} ${label}` };
    }
  }
  for (const conftest of ["conftest.py", "tests/conftest.py", "test/conftest.py"]) {
    if (await project.isFile(conftest)) return { command: PYTEST, source: conftest };
  }
  const testDir = await firstAsync(["tests", "test"], async (name) =>
    (await project.entries(name)).some((e) => e.isFile() && /^test_.*\.py$|_test\.py$/.test(e.name))
      ? name
      : undefined,
  );
  if (testDir === undefined) return undefined;
  const manifests = [
    ...(await project.entries(""))
      .filter((e) => e.isFile() && /^requirements.*\.txt$/.test(e.name))
      .map((e) => e.name)
      .sort(),
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "Pipfile",
  ];
  const declaring = await firstAsync(manifests, async (file) =>
    /\bpytest\b/.test((await project.read(file)) ?? "") ? file : undefined,
  );
  if (declaring === undefined) return undefined;
  return { command: PYTEST, source: `${testDir}/test_*.py and pytest in ${declaring}` };
}

async function fromUnittest(project: ProjectFiles): Promise<TestCommand | undefined> {
  const found = await project.findFile((name) => /^test.*\.py$/.test(name));
  if (found === undefined) return undefined;
  return { command: "python3 -m unittest discover -v", source: `${found} (no pytest configuration)` };
}

async function fromMakefile(project: ProjectFiles): Promise<TestCommand | undefined> {
  for (const file of ["GNUmakefile", "makefile", "Makefile"]) {
    const text = await project.read(file);
    // `test:` or `check test:` as a rule; not `test := …` or `test ::= …`, which are assignments.
    if (
      text !== undefined &&
      /^(?:[^\s:=#]+[ \t]+)*test(?:[ \t]+[^\s:=#]+)*[ \t]*:{1,2}(?![:=])/m.test(text)
    ) {
      return { command: "make test", source: `${file} test target` };
    }
  }
  return undefined;
}

async function firstAsync<T, R>(items: T[], fn: (item: T) => Promise<R | undefined>): Promise<R | undefined> {
  for (const item of items) {
    const result = await fn(item);
    if (result !== undefined) return result;
  }
  return undefined;
}

// ── confined, read-only file access ─────────────────────────────────────────────────────────────────

/** Reads files of one project without leaving it: a symlink counts only if it resolves inside. */
class ProjectFiles {
  readonly root: string;
  readonly #cache = new Map<string, Promise<string | undefined>>();

  private constructor(root: string) {
    this.root = root;
  }

  static async open(dir: string): Promise<ProjectFiles> {
    return new ProjectFiles(await realpath(dir).catch(() => path.resolve(dir)));
  }

  /** The path inside the project `rel` really leads to, or undefined when it is missing or leads out. */
  async #inside(rel: string): Promise<string | undefined> {
    const real = await realpath(path.join(this.root, rel)).catch(() => undefined);
    return real !== undefined && isWithin(this.root, real) ? real : undefined;
  }

  async isFile(rel: string): Promise<boolean> {
    const real = await this.#inside(rel);
    return real !== undefined && ((await lstat(real).catch(() => undefined))?.isFile() ?? false);
  }

  /** UTF-8 text of a regular file, or undefined (missing, outside, too large, not a file). */
  read(rel: string): Promise<string | undefined> {
    let text = this.#cache.get(rel);
    if (!text) {
      text = (async () => {
        const real = await this.#inside(rel);
        const info = real === undefined ? undefined : await lstat(real).catch(() => undefined);
        if (real === undefined || !info?.isFile() || info.size > MAX_MANIFEST_BYTES) return undefined;
        return readFile(real, "utf8").catch(() => undefined);
      })();
      this.#cache.set(rel, text);
    }
    return text;
  }

  /** Entries of a directory inside the project ("" for the top); symlinks are listed, not followed. */
  async entries(rel: string): Promise<Dirent[]> {
    const real = await this.#inside(rel);
    if (real === undefined) return [];
    return readdir(real, { withFileTypes: true }).catch(() => []);
  }

  /**
   * The first regular file (breadth-first, sorted, at most a few levels deep) whose name matches, skipping
   * hidden, dependency and build directories and never descending through a symlink.
   */
  async findFile(matches: (name: string) => boolean): Promise<string | undefined> {
    let level = [""];
    let seen = 0;
    for (let depth = 0; depth <= MAX_SCAN_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const dir of level) {
        const entries = (await this.entries(dir)).sort((a, b) => (a.name < b.name ? -1 : 1));
        seen += entries.length;
        for (const entry of entries) {
          const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
          if (entry.isFile() && matches(entry.name)) return rel;
          if (entry.isDirectory() && !entry.name.startsWith(".") && !SKIPPED_DIRS.has(entry.name)) {
            next.push(rel);
          }
        }
        if (seen > MAX_SCAN_ENTRIES) return undefined;
      }
      level = next;
    }
    return undefined;
  }
}
