import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerLimits, gvisorHostTasks, isGvisor } from "./container-limits.ts";

describe("containerLimits", () => {
  it("runc: memory with swap included and the pids cgroup at the sandbox's cap", () => {
    assert.deepEqual(containerLimits({ memoryBytes: 96 * 2 ** 20, pids: 24 }, undefined), {
      Memory: 96 * 2 ** 20,
      MemorySwap: 96 * 2 ** 20,
      PidsLimit: 24,
    });
  });

  it("runsc: the cap is RLIMIT_NPROC inside gVisor; the pids cgroup leaves room for its own kernel", () => {
    const limits = containerLimits({ pids: 24 }, "runsc");
    assert.deepEqual(limits.Ulimits, [{ Name: "nproc", Soft: 24, Hard: 24 }]);
    assert.equal(limits.PidsLimit, gvisorHostTasks(24));
    // Measured: a peak of 597 host tasks for 32 processes in a fork-retry loop; the backstop leaves twice that.
    assert.ok(gvisorHostTasks(32) >= 2 * 597);
  });

  it("no limits: no fields", () => {
    assert.deepEqual(containerLimits({}, "runsc"), {});
  });

  it("knows gVisor's runtime names", () => {
    assert.equal(isGvisor("runsc"), true);
    assert.equal(isGvisor("runsc-kvm"), true);
    assert.equal(isGvisor("runc"), false);
    assert.equal(isGvisor(undefined), false);
  });
});
