import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ownerPid, sessionName, stateDirPrefix, sweepStaleSessions } from "./stale-sessions.ts";

describe("stale sessions", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "entourage-stale-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("names carry the owner pid", () => {
    assert.equal(ownerPid(sessionName("ab12", 4242)), 4242);
    assert.equal(ownerPid(`${stateDirPrefix("ab12", 4242)}XyZ123`), 4242);
    assert.equal(ownerPid("session-ab12"), undefined);
    assert.equal(ownerPid("entourage-bwrap-probe-x"), undefined);
  });

  it("removes state dirs of dead owners only", () => {
    const deadPid = 2 ** 22 + 7; // above any pid_max default: never a live process
    const dead = path.join(tmp, `${stateDirPrefix("aa", deadPid)}x`);
    const mine = path.join(tmp, `${stateDirPrefix("bb")}x`);
    mkdirSync(path.join(dead, "home"), { recursive: true });
    mkdirSync(mine);
    assert.equal(sweepStaleSessions(undefined, tmp), 1);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(mine), true);
  });
});
