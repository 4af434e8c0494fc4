import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { environHas, findMarkedProcesses } from "./process-sweep.ts";

describe("process sweep", () => {
  it("matches whole variables by prefix, not substrings of values", () => {
    const environ = Buffer.from("A=1\0ENTOURAGE_SANDBOX_EXEC=ab.3\0B=ENTOURAGE_SANDBOX_EXEC=zz\0");
    assert.equal(environHas(environ, "ENTOURAGE_SANDBOX_EXEC=ab.3"), true);
    assert.equal(environHas(environ, "ENTOURAGE_SANDBOX_EXEC=ab."), true);
    assert.equal(environHas(environ, "ENTOURAGE_SANDBOX_EXEC=zz"), false);
    assert.equal(environHas(environ, "C="), false);
  });

  it("finds a setsid'd process by its inherited marker", async () => {
    const marker = `ENTOURAGE_SANDBOX_EXEC=test${process.pid}.1`;
    const child = spawn("setsid", ["sleep", "30"], {
      env: { PATH: "/usr/bin:/bin", ENTOURAGE_SANDBOX_EXEC: `test${process.pid}.1` },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      assert.ok(findMarkedProcesses(marker).length >= 1);
    } finally {
      child.kill("SIGKILL");
      for (const pid of findMarkedProcesses(marker)) process.kill(pid, "SIGKILL");
    }
  });
});
