import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CgroupLayout,
  missingControllers,
  parseProcCgroup,
  planCgroupBase,
  planCgroupSession,
  readCounter,
} from "./cgroup-plan.ts";

const v1: CgroupLayout = {
  version: 1,
  dirs: { memory: "/sys/fs/cgroup/memory/svc", pids: "/sys/fs/cgroup/pids", cpu: "/sys/fs/cgroup/cpu" },
  memsw: true,
};
const v2: CgroupLayout = {
  version: 2,
  dir: "/sys/fs/cgroup/user.slice/app.scope",
  controllers: ["memory", "pids", "cpu"],
};

describe("cgroup plans", () => {
  it("v1: one leaf per controller, memory + swap, pids, CPU quota", () => {
    assert.deepEqual(planCgroupBase(v1, ["memory", "pids"]), [
      { op: "mkdir", path: "/sys/fs/cgroup/memory/svc/entourage" },
      { op: "mkdir", path: "/sys/fs/cgroup/pids/entourage" },
    ]);
    const plan = planCgroupSession(v1, "s1", { memoryBytes: 1024, pids: 64, cpuQuota: 1.5 });
    assert.deepEqual(plan.steps, [
      { op: "mkdir", path: "/sys/fs/cgroup/memory/svc/entourage/s1" },
      { op: "write", file: "/sys/fs/cgroup/memory/svc/entourage/s1/memory.limit_in_bytes", value: "1024" },
      {
        op: "write",
        file: "/sys/fs/cgroup/memory/svc/entourage/s1/memory.memsw.limit_in_bytes",
        value: "1024",
      },
      { op: "mkdir", path: "/sys/fs/cgroup/pids/entourage/s1" },
      { op: "write", file: "/sys/fs/cgroup/pids/entourage/s1/pids.max", value: "64" },
      { op: "mkdir", path: "/sys/fs/cgroup/cpu/entourage/s1" },
      { op: "write", file: "/sys/fs/cgroup/cpu/entourage/s1/cpu.cfs_period_us", value: "100000" },
      { op: "write", file: "/sys/fs/cgroup/cpu/entourage/s1/cpu.cfs_quota_us", value: "150000" },
    ]);
    assert.equal(plan.procs.length, 3);
    assert.deepEqual(plan.oomEvents, {
      file: "/sys/fs/cgroup/memory/svc/entourage/s1/memory.oom_control",
      key: "oom_kill",
    });
    assert.equal(plan.kill, undefined);
  });

  it("v1 without swap accounting sets memory only", () => {
    const plan = planCgroupSession({ ...v1, memsw: false }, "s1", { memoryBytes: 1024 });
    assert.ok(!plan.steps.some((s) => s.op === "write" && s.file.includes("memsw")));
  });

  it("v2: controllers enabled down to one leaf, memory.max + swap.max=0, pids.max, cpu.max", () => {
    assert.deepEqual(planCgroupBase(v2, ["memory", "pids"]), [
      {
        op: "write",
        file: "/sys/fs/cgroup/user.slice/app.scope/cgroup.subtree_control",
        value: "+memory +pids",
      },
      { op: "mkdir", path: "/sys/fs/cgroup/user.slice/app.scope/entourage" },
      {
        op: "write",
        file: "/sys/fs/cgroup/user.slice/app.scope/entourage/cgroup.subtree_control",
        value: "+memory +pids",
      },
    ]);
    const leaf = "/sys/fs/cgroup/user.slice/app.scope/entourage/s1";
    const plan = planCgroupSession(v2, "s1", { memoryBytes: 2048, pids: 32, cpuQuota: 0.5 });
    assert.deepEqual(plan.steps, [
      { op: "mkdir", path: leaf },
      { op: "write", file: `${leaf}/memory.max`, value: "2048" },
      { op: "write", file: `${leaf}/memory.swap.max`, value: "0", optional: true },
      { op: "write", file: `${leaf}/pids.max`, value: "32" },
      { op: "write", file: `${leaf}/cpu.max`, value: "50000 100000" },
    ]);
    assert.deepEqual(plan.procs, [`${leaf}/cgroup.procs`]);
    assert.equal(plan.kill, `${leaf}/cgroup.kill`);
    assert.deepEqual(plan.oomEvents, { file: `${leaf}/memory.events`, key: "oom_kill" });
  });

  it("plans nothing when no limit needs a cgroup, and refuses path-like names", () => {
    assert.deepEqual(planCgroupSession(v2, "s1", {}).steps, []);
    assert.throws(() => planCgroupSession(v2, "../escape", { pids: 1 }));
  });

  it("reports controllers a layout lacks", () => {
    assert.deepEqual(
      missingControllers({ version: 1, dirs: { memory: "/m" }, memsw: false }, ["memory", "pids"]),
      ["pids"],
    );
    assert.deepEqual(missingControllers({ ...v2, controllers: ["pids"] }, ["memory", "pids"]), ["memory"]);
  });

  it("parses /proc/self/cgroup for v1 (joined controllers) and v2", () => {
    const paths = parseProcCgroup("12:pids:/a\n4:cpu,cpuacct:/b\n3:memory:/c/d\n0::/user.slice/x.scope\n");
    assert.equal(paths.get("pids"), "/a");
    assert.equal(paths.get("cpu"), "/b");
    assert.equal(paths.get("cpuacct"), "/b");
    assert.equal(paths.get("memory"), "/c/d");
    assert.equal(paths.get(""), "/user.slice/x.scope");
  });

  it("reads OOM counters from v1 oom_control and v2 memory.events", () => {
    assert.equal(readCounter("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3);
    assert.equal(readCounter("low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n", "oom_kill"), 2);
    assert.equal(readCounter("", "oom_kill"), 0);
  });
});
