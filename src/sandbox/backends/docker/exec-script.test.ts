import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { EXEC_MARKER_VAR, killCommand, pgidFile, wrapCommand } from "./exec-script.ts";

// The scripts run inside the container; here they run on the host's /bin/sh and setsid (util-linux), which
// is what the image has too.
const hasSetsid = existsSync("/usr/bin/setsid");
const run = (cmd: string[], input = "", env: Record<string, string> = {}) =>
  spawnSync(cmd[0]!, cmd.slice(1), {
    input,
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", ...env },
    timeout: 10_000,
  });

describe("docker exec wrapper", { skip: !hasSetsid && "setsid not installed" }, () => {
  const id = `t${process.pid}`;

  it("passes argv untouched, feeds stdin, returns the exit code and removes its pgid file", () => {
    const result = run(
      wrapCommand(`${id}.1`, ["sh", "-c", 'read x; echo "$x|$1"; exit 7', "_", "a b'c"], undefined),
      "in\n",
    );
    assert.equal(result.stdout, "in|a b'c\n");
    assert.equal(result.status, 7);
    assert.equal(existsSync(pgidFile(`${id}.1`)), false);
  });

  it("exits 127 for a missing command and 128+n for a signal", () => {
    assert.equal(run(wrapCommand(`${id}.2`, ["no-such-command-x"], undefined)).status, 127);
    assert.equal(run(wrapCommand(`${id}.3`, ["sh", "-c", "kill -9 $$"], undefined)).status, 137);
  });

  it("applies the CPU limit", () => {
    const result = run(wrapCommand(`${id}.4`, ["sh", "-c", "ulimit -t"], 2.5));
    assert.equal(result.stdout, "3\n");
  });

  it("runs the command as its own process group and kills what it left in it", () => {
    const marker = `6${Math.floor(Math.random() * 1e6)}`;
    const result = run(
      wrapCommand(`${id}.5`, ["sh", "-c", `sleep ${marker} & echo "$$ $(ps -o pgid= -p $$)"`], undefined),
    );
    const [pid, pgid] = result.stdout.trim().split(/\s+/);
    assert.equal(pid, pgid);
    const survivors = readdirSync("/proc").filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    });
    assert.deepEqual(survivors, []);
  });

  it("does not start a command whose kill overtook it", () => {
    writeFileSync(`${pgidFile(`${id}.6`)}.cancel`, "");
    try {
      const result = run(wrapCommand(`${id}.6`, ["echo", "started"], undefined));
      assert.equal(result.status, 137);
      assert.equal(result.stdout, "");
    } finally {
      rmSync(`${pgidFile(`${id}.6`)}.cancel`, { force: true });
    }
  });

  it("the kill script finds processes by marker", () => {
    const cmd = killCommand("abc.1", "exec");
    assert.ok(cmd.includes(`${EXEC_MARKER_VAR}=abc.1`) && cmd.at(-1) === "exec");
    assert.throws(() => killCommand("a;b", "all"));
    assert.throws(() => wrapCommand("a b", ["true"], undefined));
  });
});
