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
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { ToolInputError } from "../core/index.ts";
import { createWorkspaceFixture } from "../workspace/testing.ts";
import type {
  BackendProbe,
  OutputChunk,
  Sandbox,
  SandboxBackend,
  SandboxLimits,
  SandboxSpec,
} from "./sandbox.ts";

/** The containment probes (issue 4's list), one test each. */
export const CONTAINMENT_PROBES = [
  "write-outside",
  "read-secret",
  "host-env",
  "symlink-secret",
  "proc-environ",
  "host-processes",
  "host-tcp",
  "dns",
  "docker-socket",
  "remount-root",
  "root-or-caps",
  "fork-bomb",
  "memory-bomb",
  "cpu-time",
  "wall-timeout",
  "output-flood",
  "workspace-ownership",
  "host-symlink-follow",
  "inherited-fds",
] as const;
export type ContainmentProbe = (typeof CONTAINMENT_PROBES)[number];

export interface ConformanceOptions {
  /** Whether the backend claims isolation (checked against the backend's own flag). */
  isolated: boolean;
  /**
   * Probes this backend is known to fail (the subprocess backend's escapes). Each must be observed
   * escaping; every other probe must hold. An isolated backend declares none.
   */
  escapes?: readonly ContainmentProbe[];
}

const LIMITS: SandboxLimits = {
  memoryBytes: 512 * 1024 ** 2,
  pids: 256,
  cpuSeconds: 30,
  timeoutMs: 15_000,
  outputBytes: 64 * 1024,
};

/** Tight limits for the runaway-command tests. */
const TIGHT: SandboxLimits = {
  memoryBytes: 96 * 1024 ** 2,
  pids: 24,
  cpuSeconds: 1,
  timeoutMs: 15_000,
  outputBytes: 64 * 1024,
};

export function runSandboxConformance(
  name: string,
  makeBackend: () => SandboxBackend,
  options: ConformanceOptions,
): void {
  describe(`sandbox conformance: ${name}`, () => {
    const token = randomBytes(6).toString("hex");
    const fakeKey = `sk-entourage-fake-${token}`;
    const saved = { OPENAI_API_KEY: process.env.OPENAI_API_KEY, SECRET_X: process.env.SECRET_X };
    let backend: SandboxBackend;
    let probe: BackendProbe;
    let workspace: string;
    let sandbox: Sandbox | undefined;
    const cleanups: (() => unknown)[] = [];

    before(async () => {
      // Secrets in the host environment of the test process: they must never reach a command.
      process.env.OPENAI_API_KEY = fakeKey;
      process.env.SECRET_X = fakeKey;
      backend = makeBackend();
      probe = await backend.probe();
      workspace = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-`));
      cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
      if (probe.available) {
        sandbox = await backend.create(spec(workspace, LIMITS, { FOO: "from-spec", MY_TOKEN: "nope" }));
        cleanups.push(() => sandbox?.destroy());
      }
    });

    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });

    /** The shared sandbox, or undefined after skipping (failing under ENTOURAGE_CI=1). */
    const ready = (t: TestContext): Sandbox | undefined => {
      if (sandbox) return sandbox;
      const reason = `${name} is not available here: ${probe?.reason ?? "probe failed"}`;
      if (process.env.ENTOURAGE_CI === "1")
        assert.fail(`${reason} (ENTOURAGE_CI=1: a missing dependency fails)`);
      t.skip(reason);
      return undefined;
    };
    const sh = (script: string) => ["sh", "-c", script];

    it("reports its isolation honestly", () => {
      assert.equal(backend.isolated, options.isolated);
      if (sandbox) assert.equal(sandbox.isolated, options.isolated);
    });

    it("returns exit codes; 127 for a missing command", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      assert.equal((await sb.exec(["true"])).exitCode, 0);
      assert.equal((await sb.exec(sh("exit 7"))).exitCode, 7);
      const missing = await sb.exec([`no-such-command-${token}`]);
      assert.equal(missing.exitCode, 127);
      assert.equal(missing.killed, false);
    });

    it("streams stdout and stderr live, in arrival order", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      const chunks: (OutputChunk & { at: number })[] = [];
      const started = performance.now();
      const result = await sb.exec(sh("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three"), {
        onOutput: (chunk) => chunks.push({ ...chunk, at: performance.now() - started }),
      });
      assert.equal(result.exitCode, 0);
      assert.equal(result.output, "one\ntwo\nthree\n");
      assert.deepEqual(
        chunks.map((c) => [c.stream, c.text]),
        [
          ["stdout", "one\n"],
          ["stderr", "two\n"],
          ["stdout", "three\n"],
        ],
      );
      // Live: the first line arrived well before the command ended.
      assert.ok(
        chunks[0]!.at < result.durationMs - 250,
        `first chunk at ${chunks[0]!.at} ms of ${result.durationMs}`,
      );
    });

    it("runs in the workspace or a directory inside it, and refuses escapes", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      mkdirSync(path.join(workspace, "sub", "deeper"), { recursive: true });
      assert.equal((await sb.exec(["pwd"])).output, `${workspace}\n`);
      assert.equal((await sb.exec(["pwd"], { cwd: "sub/deeper" })).output, `${workspace}/sub/deeper\n`);
      await assert.rejects(sb.exec(["pwd"], { cwd: "../" }), (e) => ToolInputError.isInstance(e));
      await assert.rejects(sb.exec(["pwd"], { cwd: "/etc" }), (e) => ToolInputError.isInstance(e));
      symlinkSync(tmpdir(), path.join(workspace, "out-link"));
      await assert.rejects(sb.exec(["pwd"], { cwd: "out-link" }), (e) => ToolInputError.isInstance(e));
      await assert.rejects(sb.exec(["pwd"], { cwd: "missing-dir" }), (e) => ToolInputError.isInstance(e));
    });

    it("feeds stdin, and gives EOF when there is none", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      assert.equal((await sb.exec(["cat"], { stdin: "hello\nworld\n" })).output, "hello\nworld\n");
      const noInput = await sb.exec(["cat"], { timeoutMs: 5000 });
      assert.equal(noInput.timedOut, false);
      assert.equal(noInput.output, "");
      // A command that exits without reading a large stdin must not crash the host (EPIPE).
      assert.equal((await sb.exec(["true"], { stdin: "x".repeat(1024 * 1024) })).exitCode, 0);
    });

    it("does not inherit the host environment and drops secret-looking variables", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      const result = await sb.exec(["env"], { env: { BAR: "from-exec", GITHUB_TOKEN: "nope" } });
      const vars = new Map(
        result.output
          .trim()
          .split("\n")
          .map((line) => line.split(/=(.*)/s, 2) as [string, string]),
      );
      assert.equal(vars.get("FOO"), "from-spec");
      assert.equal(vars.get("BAR"), "from-exec");
      for (const key of ["OPENAI_API_KEY", "SECRET_X", "MY_TOKEN", "GITHUB_TOKEN", "NODE_TEST_CONTEXT"]) {
        assert.equal(vars.has(key), false, `${key} leaked into the sandbox`);
      }
      assert.doesNotMatch(result.output, new RegExp(fakeKey));
      assert.equal(vars.get("CI"), "1");
      assert.ok(vars.get("HOME") && vars.get("HOME") !== process.env.HOME, "HOME is private");
    });

    it("caps output, keeping the head and the tail and saying how much was dropped", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      const streamed: string[] = [];
      const result = await sb.exec(sh("echo FIRST; head -c 300000 /dev/zero | tr '\\0' x; echo; echo LAST"), {
        onOutput: (c) => streamed.push(c.text),
      });
      assert.equal(result.exitCode, 0);
      assert.equal(result.outputTruncated, true);
      assert.ok(result.output.startsWith("FIRST\n"));
      assert.ok(result.output.endsWith("\nLAST\n"));
      assert.match(result.output, /\[… \d+ bytes of output dropped/);
      assert.ok(Buffer.byteLength(result.output) < LIMITS.outputBytes + 200);
      assert.ok(Buffer.byteLength(streamed.join("")) < LIMITS.outputBytes + 200, "live output is capped too");
    });

    it("wall-timeout: kills the whole tree on timeout (background, setsid and double-forked children): 124", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      const marker = `9${Math.floor(Math.random() * 1e6)}.5`;
      const beat = (file: string) => `while :; do date +%s%N > ${file}; sleep 0.05; done`;
      const result = await sb.exec(
        sh(
          `sleep ${marker} & (${beat("bg.beat")}) & setsid sh -c '${beat("setsid.beat")}' & ` +
            // double fork: the subshell exits at once, its child is re-parented (to init or a subreaper)
            `(sh -c '${beat("double.beat")}' &) ; (setsid sh -c 'sleep ${marker}' &) ; sleep ${marker}`,
        ),
        { timeoutMs: 600 },
      );
      assert.equal(result.exitCode, 124);
      assert.equal(result.timedOut, true);
      assert.equal(result.killed, false);
      assert.ok(result.durationMs < 60_000); // did not wait for the sleeps (days long)
      await assertTreeGone(workspace, ["bg.beat", "setsid.beat", "double.beat"], marker);
    });

    it("kills the whole tree when the abort signal fires: 137", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      const marker = `8${Math.floor(Math.random() * 1e6)}.5`;
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const result = await sb.exec(sh(`sleep ${marker} & sleep ${marker}`), { signal: controller.signal });
      assert.equal(result.exitCode, 137);
      assert.equal(result.killed, true);
      assert.equal(result.timedOut, false);
      assert.ok(result.durationMs < 60_000); // did not wait for the sleeps (days long)
      await assertTreeGone(workspace, [], marker);
      const already = await sb.exec(["true"], { signal: AbortSignal.abort() });
      assert.equal(already.exitCode, 137);
    });

    it("shares workspace files with the host both ways", async (t) => {
      const sb = ready(t);
      if (!sb) return;
      writeFileSync(path.join(workspace, "from-host.txt"), "host says hi\n");
      const result = await sb.exec(
        sh("cat from-host.txt && mkdir -p out && echo written inside > out/file.txt"),
      );
      assert.equal(result.exitCode, 0, result.output);
      assert.equal(result.output, "host says hi\n");
      const file = path.join(workspace, "out", "file.txt");
      assert.equal(readFileSync(file, "utf8"), "written inside\n");
      assert.equal(statSync(file).uid, sb.runAs?.uid ?? process.getuid?.());
      writeFileSync(file, "host can still write\n");
      rmSync(path.join(workspace, "out"), { recursive: true });
    });

    it("destroy is idempotent and later execs are refused", async (t) => {
      if (!ready(t)) return;
      const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-d-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const sb = await backend.create(spec(dir, LIMITS));
      const running = sb.exec(sh("sleep 30"));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await Promise.all([sb.destroy(), sb.destroy()]);
      await sb.destroy();
      const result = await running;
      assert.equal(result.killed, true, "destroy killed the running command");
      await assert.rejects(sb.exec(["true"]));
    });

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
        if (probe.available) {
          tight = await backend.create(spec(tightDir, TIGHT));
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
        symlinkSync(secretFile, path.join(workspace, "link-to-secret"));
        symlinkSync("/etc/shadow", path.join(workspace, "link-to-shadow"));
        symlinkSync(secretDir, path.join(workspace, "link-to-dir"));
        const result = await sb.exec(
          sh("cat link-to-secret; cat link-to-shadow; cat link-to-dir/secret.txt"),
        );
        const evidence: string[] = [];
        if (/TOPSECRET/.test(result.output)) evidence.push("read the secret through a workspace link");
        if (/^root:[^:\n]*:\d/m.test(result.output))
          evidence.push("read /etc/shadow through a workspace link");
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
        const bomb = await sbTight.exec(
          sh(
            `if command -v python3 >/dev/null; then exec python3 -c '${python}' ${marker}; fi; ` +
              `: ${marker}; b() { while :; do b & done; }; b`,
          ),
          { timeoutMs: 2000 },
        );
        clearInterval(sampler);
        t.diagnostic(
          `fork bomb: ${peak} processes at most, exit ${bomb.exitCode} after ${bomb.durationMs} ms`,
        );
        assert.ok(bomb.durationMs < 2000 + 10_000, `ended: ${bomb.durationMs} ms`);
        if (peak > TIGHT.pids!) evidence.push(`${peak} bomb processes under a limit of ${TIGHT.pids}`);
        await assertTreeGone(tightDir, [], marker);
        assert.equal((await sbTight.exec(["true"])).exitCode, 0, "the sandbox works after the bomb");
        return evidence;
      });

      probeIt("memory-bomb", "a command over the memory limit is killed: 137", async (sb, t) => {
        const sbTight = tight ?? sb;
        // Bounded (256 MB, then it stops) so an uncontained run does not take the host down.
        const hog = `const a = []; for (let i = 0; i < 32; i++) a.push(Buffer.alloc(8 << 20, 1)); console.log("SURVIVED", a.length * 8, "MB");`;
        const result = await sbTight.exec(["node", "-e", hog]);
        t.diagnostic(`exit ${result.exitCode}, killed ${result.killed}, ${result.durationMs} ms`);
        if (/SURVIVED/.test(result.output) || result.exitCode === 0)
          return [`allocated 256 MB under a ${TIGHT.memoryBytes! >> 20} MB limit`];
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
        assert.equal(result.killed, true);
        assert.ok(result.durationMs < 3900, `stopped by the limit: ${result.durationMs} ms`);
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

      probeIt(
        "workspace-ownership",
        "files written inside belong to the host user after destroy",
        async () => {
          const dir = mkdtempSync(path.join(tmpdir(), `entourage-conf-${name}-own-`));
          cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
          const owned = await backend.create(spec(dir, LIMITS));
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
            if (me !== undefined && stat.uid !== me)
              evidence.push(`${rel} owned by uid ${stat.uid}, not ${me}`);
            if ((stat.mode & 0o400) === 0) evidence.push(`${rel} not readable by its owner`);
          }
          assert.equal(readFileSync(path.join(dir, "d/e/f"), "utf8"), "private\n");
          writeFileSync(path.join(dir, "d/e/f"), "host writes\n");
          return evidence;
        },
      );

      probeIt(
        "host-symlink-follow",
        "host-side Workspace code never follows a link the agent left",
        async () => {
          const fixture = await createWorkspaceFixture({ files: { "README.md": "hello\n" } });
          cleanups.push(() => fixture.cleanup());
          const ws = fixture.workspace;
          const secretOwner = statSync(secretFile).uid;
          const agent = await backend.create(spec(ws.dir, LIMITS));
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
    });
  });
}

function spec(workspace: string, limits: SandboxLimits, env?: Record<string, string>): SandboxSpec {
  return { workspace, network: "off", limits, env };
}

/** Proves nothing of a killed command survives: heartbeat files stop changing and no marker process remains. */
async function assertTreeGone(workspace: string, beats: string[], marker: string): Promise<void> {
  const read = () => beats.map((file) => readOptional(path.join(workspace, file)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const first = read();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(read(), first, "a background process is still writing its heartbeat");
  for (const [i, file] of beats.entries()) {
    assert.notEqual(first[i], undefined, `${file} was never written: the test did not start its children`);
    rmSync(path.join(workspace, file), { force: true });
  }
  const survivors = readdirSync("/proc").filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    return readOptional(`/proc/${entry}/cmdline`)?.includes(marker) ?? false;
  });
  for (const pid of survivors) process.kill(Number(pid), "SIGKILL"); // do not leave them behind a failure
  assert.deepEqual(survivors, [], `processes survived: ${survivors.join(", ")}`);
}

function listOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Descriptors above 2 of this process without close-on-exec: every child it spawns inherits them. */
export function inheritableFds(): number[] {
  const O_CLOEXEC = 0o2000000;
  return readdirSync("/proc/self/fd")
    .map(Number)
    .filter((fd) => {
      if (fd <= 2) return false;
      const flags = /^flags:\s+([0-7]+)/m.exec(readOptional(`/proc/self/fdinfo/${fd}`) ?? "")?.[1];
      return flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0;
    });
}

/** Pids of host processes whose command line contains `marker`. */
function processesWith(marker: string): string[] {
  return readdirSync("/proc").filter(
    (entry) => /^\d+$/.test(entry) && (readOptional(`/proc/${entry}/cmdline`)?.includes(marker) ?? false),
  );
}

/** A host process (`sleep`) holding a fake API key in its environment, for the sandbox to go after. */
function startVictim(
  marker: string,
  fakeKey: string,
): { pid: number; alive: () => boolean; stop: () => void } {
  const child: ChildProcess = spawn("sleep", [marker], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OPENAI_API_KEY: fakeKey },
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  if (child.pid === undefined) throw new Error("could not start the victim process");
  const pid = child.pid;
  return {
    pid,
    alive: () => !exited && child.exitCode === null && child.signalCode === null,
    stop: () => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}

interface FakeDns {
  port: number;
  queries(): number;
  close(): Promise<void>;
}

/** A DNS server on the host's 127.0.0.1 answering every query with 192.0.2.1, counting queries. */
async function startFakeDns(): Promise<FakeDns> {
  const socket: Socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", (msg, peer) => {
    queries++;
    if (msg.length < 13) return;
    let end = 12;
    while (end < msg.length && msg[end] !== 0) end += msg[end]! + 1;
    end += 5; // the root label, QTYPE and QCLASS
    const header = Buffer.from([msg[0]!, msg[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    socket.send(Buffer.concat([header, msg.subarray(12, end), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    queries: () => queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
