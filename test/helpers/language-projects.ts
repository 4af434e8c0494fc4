/**
 * Tiny projects with passing tests, one per language image of the docker sandbox, for the image tests and
 * the first-test-run benchmark: each is its files and the test command a user (or an agent) runs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ImageLanguage } from "../../src/sandbox/backends/docker/image-recipes.ts";

export interface TinyProject {
  files: Record<string, string>;
  test: string[];
}

export const TINY_PROJECTS: Record<ImageLanguage, TinyProject> = {
  node: {
    files: {
      "package.json": '{"name":"sum","version":"1.0.0","scripts":{"test":"node --test"}}\n',
      "sum.js": "module.exports = (...xs) => xs.reduce((a, b) => a + b, 0);\n",
      "test/sum.test.js":
        'const test = require("node:test");\nconst assert = require("node:assert");\nconst sum = require("../sum.js");\ntest("sums", () => assert.equal(sum(1, 2, 3), 6));\n',
    },
    test: ["node", "--test"],
  },
  python: {
    files: {
      "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1.0"\n',
      "calc.py": "def add(a, b):\n    return a + b\n",
      "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    },
    test: ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
  },
  go: {
    files: {
      "go.mod": "module example.com/sum\n\ngo 1.19\n",
      "sum.go":
        "package sum\n\nfunc Sum(xs ...int) int {\n\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n}\n",
      "sum_test.go":
        'package sum\n\nimport "testing"\n\nfunc TestSum(t *testing.T) {\n\tif got := Sum(1, 2, 3); got != 6 {\n\t\tt.Fatalf("Sum = %d", got)\n\t}\n}\n',
    },
    test: ["go", "test", "./..."],
  },
  rust: {
    files: {
      "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
      "src/lib.rs":
        "pub fn double(x: i32) -> i32 {\n    x * 2\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn doubles() {\n        assert_eq!(super::double(21), 42);\n    }\n}\n",
    },
    test: ["cargo", "test", "--offline"],
  },
};

/** Writes `files` (relative path → content) under `dir`; returns `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}
