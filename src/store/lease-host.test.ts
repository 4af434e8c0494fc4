import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { processHost } from "../core/host.ts";
import { leaseIsStale } from "./lease.ts";

const bwrap = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => existsSync(p));
const hostFile = fileURLToPath(new URL("../core/host.ts", import.meta.url));

describe("processHost", () => {
  it("is the host name in the host's PID namespace", () => {
    assert.equal(processHost(), hostname());
  });

  it("names the PID namespace of a process in a container on the host's network, and its pids are not ours", {
    skip: !bwrap && process.env.ENTOURAGE_CI !== "1" ? "bubblewrap is not installed" : false,
  }, () => {
    // A new PID namespace, the host's network and host name: what `network_mode: host` gives a container.
    const inside = execFileSync(
      bwrap ?? "bwrap",
      [
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--",
        process.execPath,
        "-e",
        `import(${JSON.stringify(hostFile)}).then((m) => console.log(m.processHost(), process.pid))`,
      ],
      { encoding: "utf8" },
    ).trim();
    const [host, pid] = inside.split(" ");
    assert.match(host ?? "", new RegExp(`^${hostname()}/pid:\\[\\d+\\]$`));
    // Its pid (small, e.g. 2) may well exist here: a lease it holds is stale only by its heartbeat, not by our pids.
    const lease = {
      holder: { pid: Number(pid), host: host ?? "", label: "entourage worker" },
      ttlMs: 30_000,
    };
    assert.equal(leaseIsStale({ ...lease, heartbeatAt: Date.now() }, Date.now()), false);
    assert.equal(leaseIsStale({ ...lease, heartbeatAt: Date.now() - 31_000 }, Date.now()), true);
  });
});
