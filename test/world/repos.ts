import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Recipe } from "./persona.ts";

/**
 * Repositories "from the world": small real projects in five toolchains, each with one real bug and a real
 * test that fails because of it, committed once in a fresh git repository in a temp dir. Each comes with the
 * recipe the persona server needs (the file, the wrong text, the fix, a decoy that does not fix it).
 */
export type WorldRepoKind = "mocha" | "vitest" | "pytest" | "go" | "cargo";

export const WORLD_REPO_KINDS: readonly WorldRepoKind[] = ["mocha", "vitest", "pytest", "go", "cargo"];

export interface WorldRepo {
  kind: WorldRepoKind;
  /** The repository: a git work tree with one commit on `main`. */
  dir: string;
  /** How its tests run, from `dir` (through bash). */
  testCommand: string;
  recipe: Recipe;
}

/** Pinned so the cache key is stable; bump them together with the cache folder name. */
export const JS_DEV_DEPENDENCIES = { mocha: "12.0.3", vitest: "4.1.12" } as const;

interface Fixture {
  files: Record<string, string>;
  testCommand: string;
  recipe: Recipe;
  devDependency?: keyof typeof JS_DEV_DEPENDENCIES;
}

const FIXTURES: Record<WorldRepoKind, () => Fixture> = {
  mocha: () => ({
    devDependency: "mocha",
    testCommand: "npm test",
    files: {
      ".gitignore": "node_modules/\n",
      "package.json": `${JSON.stringify(
        {
          name: "range-utils",
          version: "1.0.0",
          private: true,
          type: "module",
          scripts: { test: "mocha" },
          devDependencies: { mocha: JS_DEV_DEPENDENCIES.mocha },
        },
        null,
        2,
      )}\n`,
      "src/range.js": [
        "/** The integers from `start` (included) to `end` (excluded), like Python's range. */",
        "export function range(start, end) {",
        "  const out = [];",
        "  for (let i = start; i <= end; i++) out.push(i);",
        "  return out;",
        "}",
        "",
      ].join("\n"),
      "test/range.test.js": [
        'import assert from "node:assert/strict";',
        'import { range } from "../src/range.js";',
        "",
        'describe("range", () => {',
        '  it("excludes the end", () => {',
        "    assert.deepEqual(range(0, 3), [0, 1, 2]);",
        "  });",
        '  it("is empty when start equals end", () => {',
        "    assert.deepEqual(range(5, 5), []);",
        "  });",
        "});",
        "",
      ].join("\n"),
    },
    recipe: {
      file: "src/range.js",
      wrong: "i <= end",
      right: "i < end",
      decoy: "end >= i",
      classification: "bugfix",
    },
  }),
  vitest: () => ({
    devDependency: "vitest",
    testCommand: "npm test",
    files: {
      ".gitignore": "node_modules/\n",
      "package.json": `${JSON.stringify(
        {
          name: "slugger",
          version: "1.0.0",
          private: true,
          type: "module",
          scripts: { test: "vitest run" },
          devDependencies: { vitest: JS_DEV_DEPENDENCIES.vitest },
        },
        null,
        2,
      )}\n`,
      "src/slug.js": [
        "/** A URL slug: lower case, words joined by dashes. */",
        "export function slugify(title) {",
        '  return title.trim().split(/\\s+/).join("-");',
        "}",
        "",
      ].join("\n"),
      "test/slug.test.js": [
        'import { describe, expect, it } from "vitest";',
        'import { slugify } from "../src/slug.js";',
        "",
        'describe("slugify", () => {',
        '  it("lower-cases and joins words with dashes", () => {',
        '    expect(slugify("  Hello World ")).toBe("hello-world");',
        "  });",
        "});",
        "",
      ].join("\n"),
    },
    recipe: {
      file: "src/slug.js",
      wrong: 'return title.trim().split(/\\s+/).join("-");',
      right: 'return title.trim().toLowerCase().split(/\\s+/).join("-");',
      decoy: 'return title.split(/\\s+/).join("-").trim();',
      classification: "bugfix",
    },
  }),
  pytest: () => ({
    testCommand: "python3 -m pytest -q",
    files: {
      ".gitignore": "__pycache__/\n.pytest_cache/\n",
      "pyproject.toml":
        '[project]\nname = "stats"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
      // At the root so pytest puts the root on sys.path and `import stats` works without installing.
      "conftest.py": "",
      "stats/__init__.py": "from .mean import mean\n\n__all__ = ['mean']\n",
      "stats/mean.py": [
        "def mean(xs):",
        '    """The arithmetic mean of a non-empty list of numbers."""',
        "    return sum(xs) / (len(xs) - 1)",
        "",
      ].join("\n"),
      "tests/test_mean.py": [
        "from stats import mean",
        "",
        "",
        "def test_mean_of_three():",
        "    assert mean([1, 2, 3]) == 2",
        "",
        "",
        "def test_mean_of_one():",
        "    assert mean([7]) == 7",
        "",
      ].join("\n"),
    },
    recipe: {
      file: "stats/mean.py",
      wrong: "return sum(xs) / (len(xs) - 1)",
      right: "return sum(xs) / len(xs)",
      decoy: "return sum(xs) / (len(xs) - 1.0)",
      classification: "bugfix",
    },
  }),
  go: () => ({
    testCommand: "go test ./...",
    files: {
      "go.mod": "module example.com/maxint\n\ngo 1.19\n",
      "maxint.go": [
        "package maxint",
        "",
        "// Max returns the largest of xs, which must not be empty.",
        "func Max(xs []int) int {",
        "\tbest := 0",
        "\tfor _, x := range xs {",
        "\t\tif x > best {",
        "\t\t\tbest = x",
        "\t\t}",
        "\t}",
        "\treturn best",
        "}",
        "",
      ].join("\n"),
      "maxint_test.go": [
        "package maxint",
        "",
        'import "testing"',
        "",
        "func TestMaxOfNegatives(t *testing.T) {",
        "\tif got := Max([]int{-3, -1, -2}); got != -1 {",
        '\t\tt.Fatalf("Max(-3, -1, -2) = %d, want -1", got)',
        "\t}",
        "}",
        "",
        "func TestMaxOfPositives(t *testing.T) {",
        "\tif got := Max([]int{2, 9, 4}); got != 9 {",
        '\t\tt.Fatalf("Max(2, 9, 4) = %d, want 9", got)',
        "\t}",
        "}",
        "",
      ].join("\n"),
    },
    recipe: {
      file: "maxint.go",
      wrong: "best := 0",
      right: "best := xs[0]",
      decoy: "var best int",
      classification: "bugfix",
    },
  }),
  cargo: () => ({
    testCommand: "cargo test",
    files: {
      ".gitignore": "target/\n",
      "Cargo.toml": '[package]\nname = "clamp"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
      "src/lib.rs": [
        "/// Limits `v` to the range `lo..=hi`.",
        "pub fn clamp(v: i32, lo: i32, hi: i32) -> i32 {",
        "    if v < lo {",
        "        return lo;",
        "    }",
        "    if v > hi {",
        "        return lo;",
        "    }",
        "    v",
        "}",
        "",
        "#[cfg(test)]",
        "mod tests {",
        "    use super::*;",
        "",
        "    #[test]",
        "    fn above_the_range_gives_hi() {",
        "        assert_eq!(clamp(15, 0, 10), 10);",
        "    }",
        "",
        "    #[test]",
        "    fn inside_the_range_is_unchanged() {",
        "        assert_eq!(clamp(5, 0, 10), 5);",
        "    }",
        "}",
        "",
      ].join("\n"),
    },
    // Two lines: the fix is not a one-line string (and `return lo;` alone is not unique).
    recipe: {
      file: "src/lib.rs",
      wrong: "if v > hi {\n        return lo;",
      right: "if v > hi {\n        return hi;",
      decoy: "if v >= hi {\n        return lo;",
      classification: "bugfix",
    },
  }),
};

function succeeds(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 60_000 });
  return result.status === 0;
}

/**
 * Why this machine cannot make (or test) a repository of this kind, or undefined when it can. On Debian:
 * `apt-get install python3-pytest golang-go cargo`; npm comes with Node.
 */
export function missingToolchain(kind: WorldRepoKind): string | undefined {
  if (!succeeds("git", ["--version"])) return "git is not installed";
  switch (kind) {
    case "mocha":
    case "vitest":
      return succeeds("npm", ["--version"]) ? undefined : "npm is not on PATH";
    case "pytest":
      return succeeds("python3", ["-m", "pytest", "--version"])
        ? undefined
        : "pytest is not installed for python3 (Debian: apt-get install python3-pytest)";
    case "go":
      return succeeds("go", ["version"])
        ? undefined
        : "go is not installed (Debian: apt-get install golang-go)";
    case "cargo":
      return succeeds("cargo", ["--version"])
        ? undefined
        : "cargo is not installed (Debian: apt-get install cargo)";
  }
}

/** Where installed test dependencies are kept between runs; ENTOURAGE_TEST_DEPS_CACHE overrides. */
export function depsCacheDir(): string {
  return process.env.ENTOURAGE_TEST_DEPS_CACHE ?? join(homedir(), ".cache", "entourage-test-deps");
}

/**
 * A node_modules folder with exactly `name@version` installed from the npm registry, installed once per
 * machine into the cache (keyed by name and version) and reused. Concurrent callers each install into a
 * private folder and the first rename wins, so a half-installed cache is never seen.
 */
export function cachedNodeModules(name: string, version: string): string {
  const cache = depsCacheDir();
  const key = join(cache, `${name}-${version}`);
  const modules = join(key, "node_modules");
  if (existsSync(join(key, ".complete"))) return modules;
  mkdirSync(cache, { recursive: true });
  const staging = mkdtempSync(join(cache, `.${name}-${version}-`));
  writeFileSync(
    join(staging, "package.json"),
    `${JSON.stringify({ name: `cache-${name}`, private: true, devDependencies: { [name]: version } }, null, 2)}\n`,
  );
  const result = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: staging,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `npm install ${name}@${version} into ${staging} failed (exit ${result.status}${result.error ? `, ${result.error.message}` : ""}):\n${result.stderr}\nThe npm registry must be reachable the first time; later runs reuse ${key}.`,
    );
  }
  writeFileSync(join(staging, ".complete"), `${new Date().toISOString()}\n`);
  try {
    renameSync(staging, key);
  } catch {
    // Another process won the race (or a stale incomplete folder is in the way): keep a complete one.
    if (existsSync(join(key, ".complete"))) rmSync(staging, { recursive: true, force: true });
    else {
      rmSync(key, { recursive: true, force: true });
      renameSync(staging, key);
    }
  }
  return modules;
}

/** Copies a tree by hard links when it can (same file system), else by copying. */
function linkTree(from: string, to: string): void {
  const linked = spawnSync("cp", ["-al", from, to], { stdio: "ignore" });
  if (linked.status !== 0) {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=World", "-c", "user.email=world@example.com", ...args], {
    cwd: dir,
    encoding: "utf8",
    stdio: "pipe",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" },
  });
}

/**
 * Makes a repository of the kind in a new temp dir (or under `parent`): files, one commit, and for the
 * JavaScript kinds the test runner in a git-ignored node_modules (hard links into the cache: replace files
 * there rather than writing into them). Throws with the reason when the toolchain is missing.
 */
export async function makeWorldRepo(
  kind: WorldRepoKind,
  options: { parent?: string } = {},
): Promise<WorldRepo> {
  const fixture = FIXTURES[kind]?.();
  if (!fixture) throw new Error(`unknown repository kind "${kind}"; known: ${WORLD_REPO_KINDS.join(", ")}`);
  const missing = missingToolchain(kind);
  if (missing) throw new Error(`cannot make the ${kind} repository: ${missing}`);
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), `entourage-world-${kind}-`));
  for (const [path, content] of Object.entries(fixture.files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", `${kind} fixture with a failing test`);
  if (fixture.devDependency) {
    const modules = cachedNodeModules(fixture.devDependency, JS_DEV_DEPENDENCIES[fixture.devDependency]);
    linkTree(modules, join(dir, "node_modules"));
  }
  return { kind, dir, testCommand: fixture.testCommand, recipe: fixture.recipe };
}

/** Applies a recipe by hand, as a person fixing the bug would (or its decoy, with `replacement`). */
export function applyRecipe(dir: string, recipe: Recipe, replacement = recipe.right): void {
  const path = join(dir, recipe.file);
  const text = readFileSync(path, "utf8");
  const at = text.indexOf(recipe.wrong);
  if (at < 0 || text.indexOf(recipe.wrong, at + 1) >= 0)
    throw new Error(
      `${recipe.file}: the recipe's wrong text must occur exactly once, found it ${at < 0 ? "0" : "2+"} times`,
    );
  writeFileSync(path, text.slice(0, at) + replacement + text.slice(at + recipe.wrong.length));
}

/** Runs the repository's test command through bash; the exit code and the combined output. */
export function runTests(repo: Pick<WorldRepo, "dir" | "testCommand">): { exitCode: number; output: string } {
  const result = spawnSync("bash", ["-c", `${repo.testCommand} 2>&1`], {
    cwd: repo.dir,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return {
    exitCode: result.status ?? -1,
    output: `${result.stdout ?? ""}${result.error ? String(result.error) : ""}`,
  };
}
