/**
 * `entourage completion bash|zsh|fish`: the scripts are generated from the commands as they are, and each shell
 * completes with them — bash and fish asked directly, zsh checked for syntax (its completion needs a terminal;
 * tried by hand in tmux). Run ids come from the user's own store.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, cliEnv, ROOT, removeDir, runCli, tempDir } from "../helpers/cli.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** A shell from Debian's packages; under ENTOURAGE_CI=1 a missing one fails (.ci/run installs them). */
function shellMissing(name: string): string | undefined {
  if (existsSync(`/usr/bin/${name}`)) return undefined;
  if (process.env.ENTOURAGE_CI === "1") throw new Error(`${name} is not installed: .ci/run installs it`);
  return `${name} is not installed (apt-get install ${name})`;
}

describe("shell completion", () => {
  const home = tempDir("completion-home");
  const scripts: Record<string, string> = {};
  let env: Record<string, string>;
  before(async () => {
    // `entourage` on PATH, as after a global install (a link to the launcher), for the run ids the scripts ask it for.
    const bin = join(home, "bin");
    mkdirSync(bin);
    symlinkSync(join(ROOT, "bin", "entourage"), join(bin, "entourage"));
    env = cliEnv(home, { PATH: `${bin}:${process.env.PATH}` });
    // One run in the store: its id is what `show <Tab>` must offer.
    execFileSync(process.execPath, [BIN, "demo", "--json", "--no-server"], { env, stdio: "ignore" });
    for (const shell of SHELLS) {
      const result = await runCli(["completion", shell], { env });
      assert.equal(result.code, 0, result.stderr);
      scripts[shell] = join(home, `entourage.${shell}`);
      writeFileSync(scripts[shell], result.stdout);
    }
  });
  after(() => removeDir(home));

  const runId = () =>
    JSON.parse(execFileSync(process.execPath, [BIN, "runs", "--json"], { env }).toString())[0].runId;

  it("bash: commands, subcommands, flags, flag values, argument values and run ids", {
    skip: shellMissing("bash"),
  }, () => {
    const complete = (...words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source ${scripts.bash}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _entourage; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "complete",
          ...words,
        ],
        { env },
      )
        .toString()
        .trim()
        .split("\n");
    assert.deepEqual(complete("entourage", "ru"), ["run", "runs"]);
    assert.deepEqual(complete("entourage", "ac"), ["acp"]);
    assert.ok(complete("entourage", "acp", "--appr").includes("--approval"), "acp takes the run flags");
    assert.deepEqual(complete("entourage", "memory", "re"), ["review"]);
    assert.deepEqual(complete("entourage", "run", "--approval", "ask"), ["ask-risky", "ask-all"]);
    assert.ok(complete("entourage", "run", "--sa").includes("--sandbox"));
    assert.deepEqual(complete("entourage", "completion", "z"), ["zsh"]);
    assert.ok(complete("entourage", "show", "").includes(runId()), "offers the runs in the store");
    assert.deepEqual(complete("entourage", "ev"), ["eval"]);
    assert.deepEqual(complete("entourage", "eval", "--mode", "d"), ["dynamic"]);
    assert.ok(complete("entourage", "eval", "--con").includes("--concurrency"));
  });

  it("fish: the same, through fish's own completion", { skip: shellMissing("fish") }, () => {
    const complete = (line: string) =>
      execFileSync("fish", ["-c", `source ${scripts.fish}; complete -C ${JSON.stringify(line)}`], { env })
        .toString()
        .trim()
        .split("\n")
        .map((l) => l.split("\t")[0]);
    assert.deepEqual(complete("entourage ru"), ["run", "runs"]);
    assert.deepEqual(complete("entourage ac"), ["acp"]);
    assert.deepEqual(complete("entourage run --approval ask").sort(), ["ask-all", "ask-risky"]);
    assert.ok(complete("entourage show ").includes(runId()));
  });

  it("zsh: the script parses", { skip: shellMissing("zsh") }, () => {
    execFileSync("zsh", ["-n", scripts.zsh!]);
  });

  it("an unknown shell exits 2 naming the ones there are", async () => {
    const result = await runCli(["completion", "tcsh"], { env: cliEnv(home) });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /bash, zsh, fish/);
  });
});
