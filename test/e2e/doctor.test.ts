import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { cliEnv, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { makeWorldRepo } from "../world/repos.ts";

/**
 * `entourage doctor --repo`: for a real JavaScript repository (mocha in a git-ignored node_modules), what each
 * sandbox runs for it — the user's own node, not the Node Entourage runs on — and whether its test command's
 * program is there. The built CLI, real bwrap and docker where they work.
 */
const cleanup: string[] = [];
after(() => {
  for (const dir of cleanup) removeDir(dir);
});

type Report = {
  node: { version: string };
  repo: {
    dependencies: string[];
    testCommand?: { command: string };
    sandboxes: {
      backend: string;
      available: boolean;
      tools: Record<string, string>;
      testProgram?: boolean;
    }[];
  } | null;
};

describe("entourage doctor --repo", () => {
  it("shows what each sandbox runs for the repository: the user's node, its node_modules, its test program", async () => {
    const home = tempDir("home");
    const parent = tempDir("world");
    cleanup.push(home, parent);
    const repo = await makeWorldRepo("mocha", { parent });
    const result = await runCli(["doctor", "--repo", repo.dir, "--json"], {
      env: cliEnv(home),
      timeoutMs: 120_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Report;
    assert.ok(report.repo, "a repository part");
    assert.deepEqual(report.repo.dependencies, ["node_modules"]);
    assert.equal(report.repo.testCommand?.command, "npm test");
    const userNode = execFileSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).trim();
    const bwrap = report.repo.sandboxes.find((x) => x.backend === "bwrap");
    assert.ok(bwrap?.available, JSON.stringify(report.repo.sandboxes));
    assert.equal(bwrap.tools.node, userNode, "the user's node, not Entourage's");
    // Entourage runs on the pinned Node 24 here; the sandbox must not report it unless it is also the user's.
    if (report.node.version !== userNode) assert.notEqual(bwrap.tools.node, report.node.version);
    assert.equal(bwrap.testProgram, true);
    for (const x of report.repo.sandboxes) assert.equal(x.available, true, `${x.backend} was probed`);

    const text = await runCli(["doctor", "--repo", repo.dir], {
      env: cliEnv(home, { NO_COLOR: "1" }),
      timeoutMs: 120_000,
    });
    assert.match(text.stdout, /dependency folders mounted read-only: node_modules/);
    assert.match(text.stdout, new RegExp(`node\\s+.*${userNode.replace(/\./g, "\\.")}`));
    assert.match(text.stdout, /test \(npm\)\s+found/);
  });

  it("outside a checkout it still reports the backends, and says how to check a repository", async () => {
    const home = tempDir("home");
    const dir = tempDir("plain");
    cleanup.push(home, dir);
    const result = await runCli(["doctor"], { env: cliEnv(home), cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /sandbox backends:/);
    assert.match(result.stdout, /no repository here .*pass --repo <dir>/);
  });
});
