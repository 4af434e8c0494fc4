import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import {
  type BwrapProfile,
  buildBwrapArgs,
  buildLauncher,
  generateEtcFiles,
  launchScript,
} from "./bwrap-args.ts";

const profile = (over: Partial<BwrapProfile> = {}): BwrapProfile => ({
  system: [
    { kind: "ro-bind", path: "/usr" },
    { kind: "symlink", path: "/bin", target: "usr/bin" },
  ],
  etc: {
    source: "/state/etc",
    binds: [{ kind: "ro-bind", path: "/etc/ssl/certs", source: "/etc/ssl/certs" }],
  },
  workspace: { source: "/data/runs/r1/ws", dest: "/work/runs/r1/ws" },
  home: { source: "/state/home", dest: "/tmp/home" },
  toolchainDirs: ["/opt/node"],
  dependencies: [],
  network: "off",
  hostname: "entourage",
  identity: { kind: "setpriv", uid: 65532, gid: 65532, setpriv: "/usr/bin/setpriv" },
  ...over,
});
const command = {
  argv: ["bash", "-c", "npm test"],
  cwd: "/work/runs/r1/ws/pkg",
  env: { PATH: "/usr/bin:/bin", HOME: "/tmp/home" },
};

/** Index of the pair `flag value` (or triple) in args. */
const find = (args: string[], ...seq: string[]) =>
  args.findIndex((_, i) => seq.every((s, j) => args[i + j] === s));

describe("buildBwrapArgs", () => {
  it("as root: every namespace but the user one, setpriv to the sandbox uid, capabilities only for setpriv", () => {
    const args = buildBwrapArgs(profile(), command);
    for (const flag of [
      "--unshare-ipc",
      "--unshare-pid",
      "--unshare-uts",
      "--unshare-net",
      "--die-with-parent",
      "--new-session",
    ]) {
      assert.ok(args.includes(flag), flag);
    }
    assert.ok(
      !args.includes("--unshare-all") && !args.includes("--unshare-user"),
      "no user namespace mapping to host root",
    );
    assert.ok(find(args, "--cap-drop", "ALL") >= 0);
    const tail = args.slice(args.indexOf("--") + 1);
    assert.deepEqual(tail, [
      "/usr/bin/setpriv",
      "--reuid=65532",
      "--regid=65532",
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--",
      "bash",
      "-c",
      "npm test",
    ]);
  });

  it("unprivileged: --unshare-all and no setpriv", () => {
    const args = buildBwrapArgs(profile({ identity: { kind: "userns" } }), command);
    assert.ok(args.includes("--unshare-all"));
    assert.ok(!args.includes("--cap-add"));
    assert.deepEqual(args.slice(args.indexOf("--") + 1), command.argv);
  });

  it("network on: no --unshare-net (as root) or --share-net (unprivileged)", () => {
    const root = buildBwrapArgs(profile({ network: "on" }), command);
    assert.ok(!root.includes("--unshare-net") && root.includes("--unshare-pid"));
    const user = buildBwrapArgs(profile({ network: "on", identity: { kind: "userns" } }), command);
    assert.ok(user.indexOf("--share-net") > user.indexOf("--unshare-all"));
    assert.ok(!buildBwrapArgs(profile({ identity: { kind: "userns" } }), command).includes("--share-net"));
  });

  it("binds only named system pieces read-only; never / , /etc, /root, /home or docker.sock", () => {
    const args = buildBwrapArgs(profile(), command);
    const sources = args.flatMap((a, i) => (a === "--ro-bind" || a === "--bind" ? [args[i + 1]] : []));
    for (const bad of ["/", "/etc", "/root", "/home", "/var/run/docker.sock", "/run/docker.sock"]) {
      assert.ok(!sources.includes(bad), bad);
    }
    assert.ok(find(args, "--ro-bind", "/usr", "/usr") >= 0);
    assert.ok(find(args, "--symlink", "usr/bin", "/bin") >= 0);
    const etc = find(args, "--ro-bind", "/state/etc", "/etc");
    assert.ok(etc >= 0 && find(args, "--ro-bind", "/etc/ssl/certs", "/etc/ssl/certs") > etc);
    assert.ok(find(args, "--dir", "/etc/ssl") < 0, "mount points come from the prepared etc dir");
    assert.ok(find(args, "--proc", "/proc") >= 0 && find(args, "--dev", "/dev") >= 0);
    assert.ok(find(args, "--perms", "1777", "--tmpfs", "/tmp") >= 0);
    assert.ok(find(args, "--remount-ro", "/") > find(args, "--bind", "/data/runs/r1/ws", "/work/runs/r1/ws"));
  });

  it("binds the workspace read-write at its host path, creates its parents, and starts in cwd", () => {
    const args = buildBwrapArgs(profile(), command);
    const bind = find(args, "--bind", "/data/runs/r1/ws", "/work/runs/r1/ws");
    assert.ok(bind > find(args, "--perms", "1777", "--tmpfs", "/tmp"));
    for (const dir of ["/work", "/work/runs", "/work/runs/r1"]) {
      const at = find(args, "--perms", "0755", "--dir", dir);
      assert.ok(at >= 0 && at < bind, dir);
    }
    assert.ok(find(args, "--chdir", "/work/runs/r1/ws/pkg") >= 0);
    assert.ok(
      find(args, "--bind", "/state/home", "/tmp/home") > find(args, "--perms", "1777", "--tmpfs", "/tmp"),
    );
  });

  it("mounts dependency folders read-only over their places in the workspace, after (over) it", () => {
    const args = buildBwrapArgs(
      profile({
        dependencies: [
          {
            source: "/home/u/repo/packages/a/node_modules",
            dest: "/work/runs/r1/ws/packages/a/node_modules",
          },
          { source: "/home/u/repo/node_modules", dest: "/work/runs/r1/ws/node_modules" },
        ],
      }),
      command,
    );
    const ws = find(args, "--bind", "/data/runs/r1/ws", "/work/runs/r1/ws");
    const root = find(args, "--ro-bind", "/home/u/repo/node_modules", "/work/runs/r1/ws/node_modules");
    const nested = find(
      args,
      "--ro-bind",
      "/home/u/repo/packages/a/node_modules",
      "/work/runs/r1/ws/packages/a/node_modules",
    );
    assert.ok(ws >= 0 && root > ws && nested > root, "parents first, all over the workspace");
    assert.ok(find(args, "--dir", "/work/runs/r1/ws/packages") < 0, "bwrap makes mount points inside binds");
    assert.ok(!args.includes("/home/u/repo"), "never the checkout itself");
  });

  it("binds toolchain folders read-only at their own path", () => {
    const args = buildBwrapArgs(profile({ toolchainDirs: ["/root/.cargo/bin", "/root/.rustup"] }), command);
    assert.ok(find(args, "--ro-bind", "/root/.cargo/bin", "/root/.cargo/bin") >= 0);
    assert.ok(find(args, "--ro-bind", "/root/.rustup", "/root/.rustup") >= 0);
    assert.ok(find(args, "--perms", "0755", "--dir", "/root") >= 0, "a fresh /root, not the host's");
    assert.ok(find(args, "--ro-bind", "/root", "/root") < 0);
  });

  it("clears the environment and sets exactly the given one, PATH untouched", () => {
    const args = buildBwrapArgs(profile(), command);
    assert.ok(find(args, "--clearenv") >= 0);
    assert.ok(find(args, "--setenv", "PATH", "/usr/bin:/bin") > find(args, "--clearenv"));
    assert.ok(find(args, "--setenv", "HOME", "/tmp/home") >= 0);
    assert.equal(args.filter((a) => a === "--setenv").length, 2);
  });
});

describe("buildLauncher", () => {
  it("joins every cgroup and sets RLIMIT_CPU, waits for the go on fd 3, then sources the launch script", () => {
    const argv = buildLauncher({
      cgroupProcs: ["/cg/memory/s1/cgroup.procs", "/cg/pids/s1/cgroup.procs"],
      cpuSeconds: 2.5,
      sh: "/bin/sh",
      script: "/state/launch/1.sh",
    });
    assert.deepEqual(argv, [
      "/bin/sh",
      "-c",
      'echo $$ > "$1" && echo $$ > "$2" && ulimit -t 3 && umask 077 && read -r _ <&3 && exec 3<&- && . "$3"',
      "entourage-sandbox",
      "/cg/memory/s1/cgroup.procs",
      "/cg/pids/s1/cgroup.procs",
      "/state/launch/1.sh",
    ]);
  });

  it("with bash: no startup files, and descriptors above 3 closed first", () => {
    const argv = buildLauncher({ cgroupProcs: [], sh: "/bin/sh", bash: "/usr/bin/bash", script: "/s" });
    assert.deepEqual(argv.slice(0, 4), ["/usr/bin/bash", "--norc", "--noprofile", "-c"]);
    assert.match(
      argv[4]!,
      /^\{ for f in \/proc\/\$\$\/fd\/\*; .*exec \$n>&-.*\} && umask 077 && read -r _ <&3/,
    );
  });

  it("without limits only makes new files private, waits and sources", () => {
    assert.deepEqual(buildLauncher({ cgroupProcs: [], sh: "/bin/sh", script: "/s" }), [
      "/bin/sh",
      "-c",
      'umask 077 && read -r _ <&3 && exec 3<&- && . "$1"',
      "entourage-sandbox",
      "/s",
    ]);
  });

  it("launchScript quotes every word so the shell execs exactly the argv", () => {
    const words = ["printf", "%s|", "it's", "a\nb", "$HOME", "`id`", "\\", "", " sp ace ", "*"];
    const dir = mkdtempSync(path.join(tmpdir(), "entourage-launch-"));
    try {
      const script = path.join(dir, "1.sh");
      writeFileSync(script, launchScript(words));
      const out = execFileSync("/bin/sh", ["-c", '. "$1"', "x", script], { encoding: "utf8", env: {} });
      assert.equal(
        out,
        words
          .slice(2)
          .map((w) => `${w}|`)
          .join(""),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("generateEtcFiles", () => {
  it("lists only root, the sandbox user and nobody", () => {
    const files = generateEtcFiles({ uid: 65532, gid: 65532, home: "/tmp/home", hostname: "entourage" });
    assert.equal(files.passwd!.trim().split("\n").length, 3);
    assert.match(files.passwd!, /^entourage:x:65532:65532:[^:]*:\/tmp\/home:/m);
    assert.match(files.hosts!, /127\.0\.0\.1\tlocalhost entourage/);
  });
});
