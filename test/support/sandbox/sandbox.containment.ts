/**
 * The one conformance and containment suite every sandbox backend must pass. A backend's test file
 * calls `runSandboxConformance(name, makeBackend, { isolated, escapes })` (like langgraphjs's checkpoint
 * validation spec with one initializer per backend).
 *
 * Behaviour (every backend): exit codes, live ordered output, cwd confinement, stdin, a non-inherited
 * environment, the output cap, timeouts and aborts that kill the whole tree, idempotent destroy, files
 * shared with the host.
 *
 * Containment (every backend, one test per probe of issue 4): each probe tries one escape and returns
 * its evidence (empty: contained). A backend must contain every probe except those it declares in
 * `escapes`, and each declared escape must be OBSERVED: the subprocess backend runs the whole suite
 * declaring its known escapes, which proves every probe can see an escape when there is one. Probes
 * that would harm the host when they escape (a real fork bomb, an unbounded memory hog) have a bounded
 * twin that shows the escape; the harmful version runs only where containment is expected.
 *
 * A backend whose dependency is missing here (bwrap not installed, no Docker daemon) makes every test
 * FAIL when `ENTOURAGE_CI=1` and skip with the probe's reason otherwise.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { before, describe, it, type TestContext } from "node:test";
import type { BackendProbe, Sandbox, SandboxBackend } from "../../../src/sandbox/sandbox.ts";
import { detectToolchain } from "../../../src/sandbox/toolchain.ts";
import { createWorkspaceFixture } from "../workspace.ts";
import {
  assertTreeGone,
  type ConformanceOptions,
  type ContainmentProbe,
  type FakeDns,
  inheritableFds,
  LIMITS,
  listOptional,
  processesWith,
  spec,
  startFakeDns,
  startVictim,
  TIGHT,
} from "./sandbox.conformance-support.ts";

function readOptionalText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function realpathOptional(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** What the containment suite needs from the conformance suite that runs it. */
export interface ContainmentContext {
  name: string;
  options: ConformanceOptions;
  token: string;
  fakeKey: string;
  cleanups: (() => unknown)[];
  ready: (t: TestContext) => Sandbox | undefined;
  backend: () => SandboxBackend;
  probe: () => BackendProbe;
  workspace: () => string;
}

/**
 * The containment probes of issue 4, one test each, run inside the conformance suite of a backend. A
 * backend declares the probes it is expected to fail (`options.escapes`, e.g. subprocess); those must
 * show their escape, so a blind probe is caught too.
 */
export function describeContainment(ctx: ContainmentContext): void {
  const { name, options, token, fakeKey, cleanups, ready } = ctx;
  const sh = (script: string) => ["sh", "-c", script];
  describe("containment", () => {
    const expected = new Set<ContainmentProbe>(options.escapes ?? []);
    let secretDir: string;
    let secretFile: string;
    let server: Server;
    let port: number;
    let connections = 0;
    let dns: FakeDns;
    let tight: Sandbox | undefined;
    let tightDir: string;

    before(async () => {
      secretDir = mkdtempSync(path.join(tmpdir(), "entourage-secret-"));
      secretFile = path.join(secretDir, "secret.txt");
      writeFileSync(secretFile, `TOPSECRET-${token}\n`, { mode: 0o644 });
      cleanups.push(() => rmSync(secretDir, { recursive: true, force: true }));
      server = createServer((socket) => {
        connections++;
        socket.on("error", () => {}); // the probe exits as soon as it is connected
        socket.end("hello from the host\n");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      dns = await startFakeDns();
      cleanups.push(() => dns.close());
      tightDir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-tight-`));
      cleanups.push(() => rmSync(tightDir, { recursive: true, force: true }));
      if (ctx.probe().available) {
        tight = await ctx.backend().create(spec(tightDir, TIGHT));
        cleanups.push(() => tight?.destroy());
      }
    });

    /**
     * One containment test: `attempt` tries the escape and returns its evidence (empty: contained).
     * A probe the backend declares as an escape must show evidence (else the probe is blind).
     */
    const probeIt = (
      id: ContainmentProbe,
      title: string,
      attempt: (sb: Sandbox, t: TestContext) => Promise<string[]>,
    ) =>
      it(`${id}: ${title}${expected.has(id) ? ` [expected to ESCAPE on ${name}]` : ""}`, async (t) => {
        const sb = ready(t);
        if (!sb) return;
        const evidence = await attempt(sb, t);
        if (expected.has(id)) {
          assert.notDeepEqual(
            evidence,
            [],
            `${name} is declared to fail "${id}" but the probe saw no escape: the probe is blind`,
          );
          t.diagnostic(`ESCAPED as expected: ${evidence.join("; ")}`);
        } else {
          assert.deepEqual(evidence, [], `${name} failed to contain "${id}"`);
        }
      });
    /** Output lines of `result` that start with one of the escape words the probe scripts print. */
    const flagged = (output: string, words: string[]) =>
      output.split("\n").filter((line) => words.some((w) => line.startsWith(w)));

    probeIt("inherited-fds", "holds no descriptor but stdin, stdout and stderr", async (sb, t) => {
      // What started the test runner may leak descriptors without close-on-exec (a CI agent, a
      // terminal multiplexer): a sandbox must not pass them on. The shell's own fds are 0-2 only.
      const leaked = inheritableFds();
      if (leaked.length === 0)
        t.diagnostic("this process holds no inheritable descriptor: little to leak here");
      // The shell's own table, listed by a child (a glob or $(…) in the shell would add its own fds).
      const result = await sb.exec(sh("ls -l /proc/$$/fd"));
      const fds = [...result.output.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => [m[1]!, m[2]!] as const);
      assert.ok(fds.length >= 3, `the probe ran: ${result.output}`);
      return fds.filter(([fd]) => Number(fd) > 2).map(([fd, target]) => `fd ${fd} -> ${target}`);
    });

    probeIt("write-outside", "cannot write /etc, /usr, /root, / or the host's /tmp", async (sb) => {
      const file = `entourage-probe-${token}`;
      const targets = ["/etc", "/usr", "/usr/bin", "/root", "", "/tmp"].map((dir) => `${dir}/${file}`);
      try {
        await sb.exec(sh(targets.map((f) => `echo escaped > ${f}`).join("; ")));
        // A private /tmp (tmpfs) may accept the write: only what appears on the host counts.
        return targets.filter((f) => existsSync(f)).map((f) => `wrote host ${f}`);
      } finally {
        for (const f of targets) rmSync(f, { force: true });
      }
    });

    probeIt("read-secret", "cannot read a host secret, /etc/shadow, /root or /home", async (sb) => {
      const result = await sb.exec(sh(`ls -a /root /home; cat ${secretFile}; cat /etc/shadow`));
      const evidence: string[] = [];
      if (/TOPSECRET/.test(result.output)) evidence.push(`read ${secretFile}`);
      if (/^root:[^:\n]*:\d/m.test(result.output)) evidence.push("read /etc/shadow");
      // A container may have its own /root; none of the host's own entries may show.
      const common = new Set([".", "..", ".bashrc", ".profile", ".cache", ".config", ".local", ".npm"]);
      const seen = new Set(result.output.split(/\s+/));
      const host = [...listOptional("/root"), ...listOptional("/home")].filter((e) => !common.has(e));
      const listed = host.filter((e) => seen.has(e));
      if (listed.length > 0) evidence.push(`listed host /root or /home: ${listed.slice(0, 5).join(", ")}`);
      return evidence;
    });

    probeIt("host-env", "sees no host variable (API keys) in env, /proc/self or /proc/1", async (sb) => {
      const result = await sb.exec(
        sh("env; cat /proc/self/environ /proc/1/environ 2>/dev/null | tr '\\0' '\\n'"),
      );
      assert.match(result.output, /^PATH=/m, "the probe ran");
      return result.output.includes(fakeKey) ? ["a host API key is visible"] : [];
    });

    probeIt("symlink-secret", "cannot follow a workspace symlink to a host secret", async (sb) => {
      symlinkSync(secretFile, path.join(ctx.workspace(), "link-to-secret"));
      symlinkSync("/etc/shadow", path.join(ctx.workspace(), "link-to-shadow"));
      symlinkSync(secretDir, path.join(ctx.workspace(), "link-to-dir"));
      const result = await sb.exec(sh("cat link-to-secret; cat link-to-shadow; cat link-to-dir/secret.txt"));
      const evidence: string[] = [];
      if (/TOPSECRET/.test(result.output)) evidence.push("read the secret through a workspace link");
      if (/^root:[^:\n]*:\d/m.test(result.output)) evidence.push("read /etc/shadow through a workspace link");
      return evidence;
    });

    probeIt("proc-environ", "cannot read a host process's /proc/<pid>/environ", async (sb) => {
      const victim = startVictim(`86${Math.floor(Math.random() * 1e5)}.25`, fakeKey);
      try {
        const own = createHash("md5").update(readFileSync("/proc/self/environ")).digest("hex");
        const result = await sb.exec(
          sh(
            `cat /proc/${process.pid}/environ 2>/dev/null | md5sum; ` +
              `cat /proc/${victim.pid}/environ /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'`,
          ),
        );
        const evidence: string[] = [];
        if (result.output.startsWith(own))
          evidence.push(`read /proc/${process.pid}/environ (the test process)`);
        if (result.output.includes(fakeKey)) evidence.push("read a host process's API key from /proc");
        return evidence;
      } finally {
        victim.stop();
      }
    });

    probeIt("host-processes", "cannot see, ptrace (/proc/<pid>/mem) or kill a host process", async (sb) => {
      const marker = `87${Math.floor(Math.random() * 1e5)}.25`;
      const victim = startVictim(marker, fakeKey);
      try {
        const p = victim.pid;
        const result = await sb.exec(
          sh(
            [
              `[ -d /proc/${p} ] && echo VISIBLE /proc/${p}`,
              // The victim's exact command line (this script's own holds the marker too).
              `for d in /proc/[0-9]*; do [ "$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)" = "sleep ${marker} " ] && echo SEEN $d; done`,
              `echo COUNT $(ls /proc | grep -c '^[0-9]')`,
              `a=$(head -1 /proc/${p}/maps 2>/dev/null | cut -d- -f1)`,
              `[ -n "$a" ] && dd if=/proc/${p}/mem bs=1 count=4 skip=$((0x$a)) 2>/dev/null | od -An -c | sed 's/^/PTRACED /'`,
              `kill -0 ${p} 2>/dev/null && echo SIGNALLED kill -0`,
              `kill -9 ${p} 2>/dev/null && echo SIGNALLED kill -9`,
              "true",
            ].join("\n"),
          ),
        );
        const count = Number(/^COUNT (\d+)/m.exec(result.output)?.[1]);
        assert.ok(count > 0, `the probe ran: ${result.output}`);
        const evidence = flagged(result.output, ["VISIBLE", "SEEN", "PTRACED", "SIGNALLED"]);
        if (count >= 20) evidence.push(`sees ${count} processes`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (!victim.alive()) evidence.push("killed the host process");
        return evidence;
      } finally {
        victim.stop();
      }
    });

    probeIt("host-tcp", "cannot connect to a listener on the host's 127.0.0.1", async (sb) => {
      const script = `require("net").connect(${port}, "127.0.0.1")
        .on("connect", () => { console.log("CONNECTED"); process.exit(0); })
        .on("error", (e) => { console.log("ERR", e.code); process.exit(3); });`;
      const before = connections;
      const result = await sb.exec(["node", "-e", script]);
      assert.match(result.output, /^(ERR|CONNECTED)/m, `the probe ran: ${result.output}`);
      const evidence = flagged(result.output, ["CONNECTED"]);
      if (connections > before) evidence.push(`host listener accepted ${connections - before}`);
      return evidence;
    });

    probeIt("dns", "cannot resolve names (system resolver, or a DNS server on the host)", async (sb) => {
      const script = `const r = new (require("dns").promises.Resolver)({ timeout: 1000, tries: 1 });
        r.setServers(["127.0.0.1:${dns.port}"]);
        r.resolve4("example.com").then((a) => console.log("RESOLVED", a.join()), (e) => console.log("ERR", e.code));`;
      const before = dns.queries();
      const result = await sb.exec(sh(`getent ahosts example.com && echo GETENT; node -e '${script}'`));
      assert.match(result.output, /^(ERR|RESOLVED)/m, `the probe ran: ${result.output}`);
      const evidence = flagged(result.output, ["GETENT", "RESOLVED"]);
      if (dns.queries() > before) evidence.push(`host DNS server got ${dns.queries() - before} queries`);
      return evidence;
    });

    probeIt("docker-socket", "cannot see or talk to the Docker socket", async (sb, t) => {
      const sockets = ["/var/run/docker.sock", "/run/docker.sock"];
      if (!sockets.some((s) => existsSync(s)))
        t.diagnostic("no Docker socket on this host: the probe cannot show much here");
      const script = `const s = require("net").connect("/var/run/docker.sock")
        .on("connect", () => s.write("GET /_ping HTTP/1.0\\r\\n\\r\\n"))
        .on("data", (d) => { console.log("DOCKER", String(d).split("\\r\\n")[0]); process.exit(0); })
        .on("error", (e) => { console.log("ERR", e.code); process.exit(3); });`;
      const result = await sb.exec(
        sh(`ls -l ${sockets.join(" ")} 2>&1 | sed 's/^s/SOCKET s/'; node -e '${script}'`),
      );
      assert.match(result.output, /^(ERR|DOCKER)/m, `the probe ran: ${result.output}`);
      return flagged(result.output, ["SOCKET", "DOCKER"]);
    });

    probeIt("remount-root", "cannot remount / read-write", async (sb) => {
      const file = `/entourage-remount-${token}`;
      try {
        const result = await sb.exec(
          sh(`mount -o remount,rw / && echo REMOUNTED; echo x > ${file} && echo WROTE ${file}`),
        );
        const evidence = flagged(result.output, ["REMOUNTED"]);
        if (existsSync(file)) evidence.push(`wrote host ${file}`);
        return evidence;
      } finally {
        rmSync(file, { force: true });
      }
    });

    probeIt("root-or-caps", "runs as a non-root uid without capabilities", async (sb) => {
      const result = await sb.exec(sh("id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"));
      const [uid, ...caps] = result.output.trim().split("\n");
      assert.match(uid ?? "", /^\d+$/, `the probe ran: ${result.output}`);
      const evidence = uid === "0" ? ["runs as uid 0"] : [];
      for (const line of caps) if (!/:\s+0+$/.test(line)) evidence.push(line.replace(/\s+/, " "));
      return evidence;
    });

    probeIt("fork-bomb", "the pids limit bounds process creation; a real fork bomb ends", async (sb, t) => {
      const sbTight = tight ?? sb;
      // Bounded: 60 children against a limit of TIGHT.pids; each that started leaves a file.
      const bounded = await sbTight.exec(
        sh("for i in $(seq 1 60); do (: > forked.$i; sleep 1) & done 2>&1 | head -3; wait"),
      );
      const started = readdirSync(tightDir).filter((f) => f.startsWith("forked.")).length;
      for (const f of readdirSync(tightDir)) if (f.startsWith("forked.")) rmSync(path.join(tightDir, f));
      const evidence =
        started > TIGHT.pids! ? [`started ${started} processes under a limit of ${TIGHT.pids}`] : [];
      if (evidence.length > 0) return evidence;
      assert.equal(bounded.timedOut, false);
      assert.match(bounded.output, /fork|resource temporarily unavailable/i);
      if (expected.has("fork-bomb")) return evidence;
      // The real thing, only where it is contained: every process forks forever and retries when a fork
      // fails (a shell gives up at the first failed fork, so the bomb would collapse by itself). Bounded
      // while it runs, killed at the timeout, nothing left after.
      const marker = `bomb${token}`;
      const python = "import os, time\nwhile True:\n  try: os.fork()\n  except OSError: time.sleep(0.01)";
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, processesWith(marker).length);
      }, 100);
      const bomb = await sbTight
        .exec(
          sh(
            `if command -v python3 >/dev/null; then exec python3 -c '${python}' ${marker}; fi; ` +
              `: ${marker}; b() { while :; do b & done; }; b`,
          ),
          { timeoutMs: 2000 },
        )
        .finally(() => clearInterval(sampler));
      t.diagnostic(`fork bomb: ${peak} processes at most, exit ${bomb.exitCode} after ${bomb.durationMs} ms`);
      assert.ok(bomb.durationMs < 2000 + 10_000, `ended: ${bomb.durationMs} ms`);
      if (peak > TIGHT.pids!) evidence.push(`${peak} bomb processes under a limit of ${TIGHT.pids}`);
      await assertTreeGone(tightDir, [], marker);
      assert.equal((await sbTight.exec(["true"])).exitCode, 0, "the sandbox works after the bomb");
      return evidence;
    });

    probeIt("memory-bomb", "a command over the memory limit is killed: 137", async (sb, t) => {
      const sbTight = tight ?? sb;
      // Bounded (160 MB against a 96 MB limit, then it stops) so an uncontained run does not take the host
      // down. One byte per page commits the memory at the least CPU cost (page faults are what it costs: about
      // 0.5 s here), so the cpuSeconds limit of the same spec does not stop it first.
      const hog = `const a = []; for (let i = 0; i < 20; i++) { const b = Buffer.allocUnsafeSlow(8 << 20); for (let j = 0; j < b.length; j += 4096) b[j] = 1; a.push(b); } console.log("SURVIVED", a.length * 8, "MB");`;
      const result = await sbTight.exec(["node", "-e", hog]);
      t.diagnostic(`exit ${result.exitCode}, killed ${result.killed}, ${result.durationMs} ms`);
      if (/SURVIVED/.test(result.output) || result.exitCode === 0)
        return [`allocated 160 MB under a ${TIGHT.memoryBytes! >> 20} MB limit`];
      assert.equal(result.exitCode, 137, result.output);
      assert.equal(result.killed, true);
      assert.equal(result.timedOut, false);
      return [];
    });

    probeIt("cpu-time", "a busy loop is stopped at cpuSeconds", async (sb, t) => {
      const sbTight = tight ?? sb;
      // Bounded: spins for 4 s of wall time at most, against a limit of 1 s of CPU.
      const spin = `const end = Date.now() + 4000; while (Date.now() < end); console.log("SURVIVED");`;
      const result = await sbTight.exec(["node", "-e", spin]);
      t.diagnostic(`exit ${result.exitCode}, killed ${result.killed}, ${result.durationMs} ms`);
      if (/SURVIVED/.test(result.output))
        return [`spun ${result.durationMs} ms under a ${TIGHT.cpuSeconds} s limit`];
      assert.equal(result.timedOut, false);
      // Killed (not timed out) and it never printed SURVIVED: the CPU-time limit stopped it.
      assert.equal(result.killed, true);
      return [];
    });

    probeIt("wall-timeout", "a timed-out tree leaves no survivor (see the behaviour test)", async (sb) => {
      // The behaviour test above covers background, setsid and double-forked children; this one
      // is the minimal probe of the list: a detached grandchild outliving the timeout.
      const marker = `6${Math.floor(Math.random() * 1e6)}.5`;
      const result = await sb.exec(sh(`(setsid sh -c 'sleep ${marker}' &); sleep ${marker}`), {
        timeoutMs: 400,
      });
      assert.equal(result.exitCode, 124);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const survivors = processesWith(marker);
      for (const pid of survivors) process.kill(Number(pid), "SIGKILL");
      return survivors.map((pid) => `pid ${pid} survived the timeout`);
    });

    probeIt("output-flood", "a flood of output is capped, flagged and does not hang", async (sb) => {
      const evidence: string[] = [];
      const cap = sb.spec.limits.outputBytes + 200;
      const flood = await sb.exec(sh("yes | head -c 50000000; echo END"));
      if (!flood.outputTruncated) evidence.push("50 MB of output not flagged as truncated");
      if (Buffer.byteLength(flood.output) > cap)
        evidence.push(`kept ${Buffer.byteLength(flood.output)} bytes`);
      assert.equal(flood.exitCode, 0);
      assert.ok(flood.output.endsWith("END\n"), "the tail is kept");
      const endless = await sb.exec(["yes"], { timeoutMs: 1000 });
      assert.equal(endless.exitCode, 124);
      if (Buffer.byteLength(endless.output) > cap)
        evidence.push(`kept ${Buffer.byteLength(endless.output)} bytes of an endless flood`);
      if (!endless.outputTruncated) evidence.push("endless output not flagged as truncated");
      return evidence;
    });

    probeIt("workspace-ownership", "files written inside belong to the host user after destroy", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-own-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const owned = await ctx.backend().create(spec(dir, LIMITS));
      try {
        const result = await owned.exec(
          sh("umask 077; mkdir -p d/e && echo private > d/e/f && chmod 600 d/e/f"),
        );
        assert.equal(result.exitCode, 0, result.output);
      } finally {
        await owned.destroy();
      }
      const me = process.getuid?.();
      const evidence: string[] = [];
      for (const rel of ["d", "d/e", "d/e/f"]) {
        const stat = statSync(path.join(dir, rel));
        if (me !== undefined && stat.uid !== me) evidence.push(`${rel} owned by uid ${stat.uid}, not ${me}`);
        if ((stat.mode & 0o400) === 0) evidence.push(`${rel} not readable by its owner`);
      }
      assert.equal(readFileSync(path.join(dir, "d/e/f"), "utf8"), "private\n");
      writeFileSync(path.join(dir, "d/e/f"), "host writes\n");
      return evidence;
    });

    probeIt(
      "host-symlink-follow",
      "host-side Workspace code never follows a link the agent left",
      async () => {
        const fixture = await createWorkspaceFixture({ files: { "README.md": "hello\n" } });
        cleanups.push(() => fixture.cleanup());
        const ws = fixture.workspace;
        const secretOwner = statSync(secretFile).uid;
        const agent = await ctx.backend().create(spec(ws.dir, LIMITS));
        const evidence: string[] = [];
        const leak = (what: string, text: string) => {
          if (/TOPSECRET|^root:[^:\n]*:\d/m.test(text)) evidence.push(`${what} exposed a host secret`);
        };
        try {
          const links = `ln -s ${secretFile} leak.txt && ln -s /etc/shadow shadow && ln -s ${secretDir} secrets && ln -s /etc etc`;
          const result = await agent.exec(sh(links));
          assert.equal(result.exitCode, 0, result.output);
          for (const rel of ["leak.txt", "shadow", "secrets/secret.txt", "etc/shadow"]) {
            const read = await ws.readText(rel).then(
              (slice) => JSON.stringify(slice),
              () => "",
            );
            leak(`readText(${rel})`, read);
            const bytes = await ws.readBytes(rel).then(
              (b) => b.toString(),
              () => "",
            );
            leak(`readBytes(${rel})`, bytes);
          }
          const listed = [
            ...(await ws.list()),
            ...(await ws.list({ pattern: "*" })),
            ...(await ws.list({ path: "secrets" }).catch(() => [])),
          ];
          const inside = listed.filter((f) => f.startsWith("secrets/") || f.startsWith("etc/"));
          if (inside.length > 0)
            evidence.push(`list() walked into a linked directory: ${inside.slice(0, 3).join(", ")}`);
          await ws.snapshot("the agent left links");
          leak("snapshot + diff", await ws.diff());
        } finally {
          await agent.destroy();
        }
        if (statSync(secretFile).uid !== secretOwner) evidence.push("destroy chowned the link's target");
        return evidence;
      },
    );

    probeIt(
      "dependency-write",
      "a dependency folder from the checkout is readable inside, and a write into it fails",
      async () => {
        const source = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-deps-`));
        cleanups.push(() => rmSync(source, { recursive: true, force: true }));
        chmodSync(source, 0o755); // as a checkout's node_modules is (mkdtemp makes 0700)
        mkdirSync(path.join(source, "lib"));
        writeFileSync(path.join(source, "lib", "index.js"), `module.exports = "${token}";\n`, {
          mode: 0o644,
        });
        const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-depws-`));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        const sb = await ctx
          .backend()
          .create({ ...spec(dir, LIMITS), dependencies: [{ source, path: "node_modules" }] });
        try {
          const read = await sb.exec(sh("cat node_modules/lib/index.js"));
          assert.equal(read.exitCode, 0, `the dependency folder is not readable inside: ${read.output}`);
          assert.match(read.output, new RegExp(token));
          await sb.exec(
            sh(
              "echo tampered >> node_modules/lib/index.js; touch node_modules/planted; rm -f node_modules/lib/index.js",
            ),
          );
        } finally {
          await sb.destroy();
        }
        const evidence: string[] = [];
        const after = readOptionalText(path.join(source, "lib", "index.js"));
        if (after !== `module.exports = "${token}";\n`)
          evidence.push("the user's dependency file was changed or removed");
        if (existsSync(path.join(source, "planted")))
          evidence.push("a file was planted in the user's dependency folder");
        return evidence;
      },
    );

    probeIt(
      "entourage-runtime-path",
      "with the user's toolchain, Entourage's own Node is not on PATH (even when it runs under npm)",
      async () => {
        const runtime = path.dirname(realpathSync(process.execPath));
        const { toolchain } = detectToolchain({
          env: {
            ...process.env,
            PATH: `${path.join(process.cwd(), "node_modules", ".bin")}:${runtime}:${process.env.PATH ?? ""}`,
          },
          execPath: process.execPath,
        });
        const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-path-`));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        const sb = await ctx.backend().create({ ...spec(dir, LIMITS), toolchain });
        try {
          const result = await sb.exec(sh('echo "PATH=$PATH"; command -v node || true'));
          const evidence: string[] = [];
          const pathLine = result.output.split("\n").find((l) => l.startsWith("PATH=")) ?? "";
          if (pathLine.slice(5).split(":").includes(runtime)) evidence.push(`${runtime} is on PATH`);
          const node = result.output.split("\n").find((l) => l.startsWith("/"));
          if (node && realpathOptional(node) === realpathSync(process.execPath))
            evidence.push(`node resolves to Entourage's own ${process.execPath}`);
          return evidence;
        } finally {
          await sb.destroy();
        }
      },
    );

    probeIt(
      "credentials-bound",
      "HOME and credentials folders are never bound, whatever the spec says",
      async () => {
        const home = homedir();
        const evidence: string[] = [];
        const common = new Set([".bashrc", ".profile", ".bash_logout", ".cache", ".config", ".local"]);
        const hostEntries = listOptional(home).filter((e) => !common.has(e));
        for (const dirs of [[home], [path.join(home, ".ssh")], [path.join(home, ".aws")], ["/"]]) {
          const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-cred-`));
          cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
          const created = await ctx
            .backend()
            .create({ ...spec(dir, LIMITS), toolchain: { dirs, path: "/usr/bin:/bin" } })
            .catch((error: unknown) => error as Error);
          if (created instanceof Error) {
            assert.match(created.message, /Refusing the toolchain folder/);
            continue;
          }
          try {
            // A backend that ignores the toolchain (an image's own) must not show the host's HOME either.
            const seen = (await created.exec(sh(`ls -A ${home} 2>/dev/null`))).output.split("\n");
            const leaked = hostEntries.filter((e) => seen.includes(e));
            if (leaked.length > 0)
              evidence.push(`${dirs[0]}: host HOME entries visible (${leaked.slice(0, 3).join(", ")})`);
          } finally {
            await created.destroy();
          }
        }
        return evidence;
      },
    );
  });
}
