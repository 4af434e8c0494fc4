import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type FakeModelServer, startFakeModelServer } from "../fake-llm/server.ts";
import { BIN, makeSampleRepo, ROOT, removeDir, tempDir } from "../helpers/cli.ts";
import { waitFor } from "./dashboard-support.ts";

/**
 * The team deployment exactly as the README starts it: `entourage deploy build-image`, then `docker-compose up`
 * of the repository's compose.yaml — PostgreSQL, the server and two workers in containers on the host's
 * network, the workers starting their sandboxes through the host's engine. Three runs go in over the API with
 * the token; one worker container is SIGKILLed (`docker kill`) while it runs a command; the other worker
 * finishes every run: gap-free logs, each tool call executed once, the commands run in sandbox containers.
 * Nothing but loopback is used: no network is created. FAILS without Docker or docker-compose under
 * ENTOURAGE_CI=1.
 */
const run = promisify(execFile);
const CI = process.env.ENTOURAGE_CI === "1";

function missing(): string | undefined {
  if (spawnSync("docker", ["version"], { stdio: "ignore" }).status !== 0) return "Docker is not running";
  if (spawnSync("docker-compose", ["version"], { stdio: "ignore" }).status !== 0)
    return "docker-compose is not installed (apt-get install docker-compose)";
  return undefined;
}
const why = missing();
if (why && CI) throw new Error(`compose-deploy: ${why}`);

type Event = { seq: number; id: string; type: string; data: Record<string, unknown> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("the team deployment: docker-compose up of compose.yaml", { skip: why, timeout: 900_000 }, () => {
  const project = `entourage-e2e-${process.pid}`;
  const token = `test-token-${Math.random().toString(36).slice(2)}-0123456789`;
  let repos: string;
  let model: FakeModelServer;
  let env: NodeJS.ProcessEnv;
  let base: string;
  let networksBefore: string;

  const compose = (...args: string[]) =>
    run("docker-compose", ["-p", project, "-f", join(ROOT, "compose.yaml"), ...args], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  const api = async <T>(path: string, init: RequestInit = {}, auth = true) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
        ...init.headers,
      },
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const events = async (runId: string): Promise<Event[]> =>
    (await api<{ events: Event[] }>(`/runs/${runId}/events?limit=5000`)).body.events;
  const workers = async (): Promise<string[]> =>
    (await compose("ps", "-q", "worker")).stdout.split("\n").filter(Boolean);

  before(async () => {
    networksBefore = (await run("docker", ["network", "ls", "-q"])).stdout;
    // The images, as the README builds them (the runtime is cached by content hash; cold: ~2 min).
    const built = spawnSync(process.execPath, [BIN, "deploy", "build-image"], { encoding: "utf8" });
    assert.equal(built.status, 0, `${built.stdout}\n${built.stderr}`);
    assert.match(built.stdout, /entourage\/entourage:\d+\.\d+\.\d+ (built|is up to date)/);

    repos = tempDir("repos");
    const sample = makeSampleRepo();
    cpSync(sample, join(repos, "sample"), { recursive: true });
    removeDir(sample);
    // The command each run is killed in takes 8 s: long enough to see it start and kill its worker.
    const scenario = join(repos, "scenario.json");
    const text = readFileSync(join(ROOT, "test", "e2e", "scenarios", "kill-resume.json"), "utf8");
    writeFileSync(scenario, text.replaceAll("sleep 2 && npm test", "sleep 8 && npm test"));
    mkdirSync(join(repos, "empty"));
    model = await startFakeModelServer({ scenario, perConversation: true });

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ENTOURAGE_TOKEN: token,
      ENTOURAGE_DB_PASSWORD: `pw-${Math.random().toString(36).slice(2)}`,
      ENTOURAGE_REPOS: repos,
      ENTOURAGE_PORT: String(port),
      ENTOURAGE_PG_PORT: String(await freePort()),
      ENTOURAGE_LEASE_TTL_SECONDS: "3",
    };
    await compose("up", "-d", "--scale", "worker=2");
    await waitFor("the server's /health", async () =>
      (await fetch(`${base}/health`)).ok ? true : undefined,
    );
  });

  after(async () => {
    if (env) {
      const logs = await compose("logs", "--no-color").catch((e) => ({ stdout: String(e) }));
      if (process.env.ENTOURAGE_DEBUG) console.error(logs.stdout);
      await compose("down", "-v", "--timeout", "5").catch(() => {});
    }
    await model?.close();
    if (repos) removeDir(repos);
  });

  it("asks for the token on every route but /health, even from loopback (a TLS proxy sends from there)", async () => {
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await api("/runs", {}, false)).status, 401);
    assert.equal((await api("/runs")).status, 200);
  });

  it("finishes three runs when a worker container is SIGKILLed mid-command: gap-free logs, every tool call once, commands in sandboxes", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await api<{ runId: string }>("/runs", {
        method: "POST",
        body: JSON.stringify({
          task: `Fix the date formatting (${i})`,
          repo: "/repos/sample",
          mode: "single",
          approval: "auto",
          provider: "openai-compatible",
          baseUrl: model.baseUrl,
          model: "fake-coder",
        }),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      ids.push(created.body.runId);
    }
    // A run whose slow command has started: its worker container is the one to kill.
    const victim = await waitFor(
      "a slow command to start",
      async () => {
        for (const id of ids) {
          // call_2_0 is the scenario's `sleep 8 && npm test`: started and not ended.
          const log = await events(id);
          const slow = log.find((e) => e.type === "tool.call.started" && e.data.callId === "call_2_0");
          if (slow && !log.some((e) => e.type === "tool.call.ended" && e.data.callId === "call_2_0"))
            return id;
        }
        return undefined;
      },
      180_000,
    );
    let killed: string | undefined;
    for (const container of await workers()) {
      const logs = await run("docker", ["logs", container], { maxBuffer: 16 * 1024 * 1024 });
      const said = logs.stdout + logs.stderr;
      if (said.includes(`run ${victim} driving`) && !said.includes(`run ${victim} succeeded`)) {
        await run("docker", ["kill", "--signal", "KILL", container]);
        killed = container;
        break;
      }
    }
    assert.ok(killed, "found the worker container driving the run");

    const finals = await Promise.all(
      ids.map((id) =>
        waitFor(
          `run ${id} to finish`,
          async () => {
            const { body } = await api<{ run: { status: string } }>(`/runs/${id}`);
            return ["succeeded", "failed", "cancelled"].includes(body.run.status)
              ? body.run.status
              : undefined;
          },
          300_000,
        ),
      ),
    );
    assert.deepEqual(finals, ["succeeded", "succeeded", "succeeded"]);

    for (const id of ids) {
      const log = await events(id);
      assert.deepEqual(
        log.map((e) => e.seq),
        log.map((_, i) => i),
        `${id}: gap-free seq`,
      );
      const created = log.find((e) => e.type === "run.created")!;
      assert.equal((created.data.sandbox as { backend: string }).backend, "docker");
      assert.equal(new Set(log.map((e) => e.id)).size, log.length, `${id}: no event twice`);
      const requested = log.filter((e) => e.type === "tool.call.requested").map((e) => e.data.callId);
      const ended = log.filter((e) => e.type === "tool.call.ended").map((e) => e.data.callId);
      assert.deepEqual([...ended].sort(), [...new Set(requested)].sort(), `${id}: one result per call`);
      const attached = log.filter((e) => e.type === "run.attached");
      if (id === victim) {
        assert.ok(attached.length >= 2, "the run was taken over by another driver");
        assert.ok(attached.at(-1)?.data.tookOverFrom, "the take-over names the dead worker");
      }
      assert.equal(log.filter((e) => e.type === "run.finished").length, 1);
    }
    // The change is in the shared workspace volume, for the server to show.
    const diff = await fetch(`${base}/runs/${victim}/diff`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(diff.status, 200);
    assert.match(await diff.text(), /padStart/);
  });

  it("created no network and leaves no sandbox container of the dead worker once the other prunes", async () => {
    assert.equal((await run("docker", ["network", "ls", "-q"])).stdout, networksBefore);
    // The killed worker's sandbox (its owner container restarted or stopped) is removed by a worker's prune: no
    // sandbox container owned by a process in a container (host label `<host>/pid:[…]`) is left.
    const left = await waitFor(
      "the dead worker's sandbox to be pruned",
      async () => {
        const { stdout } = await run("docker", [
          "ps",
          "-a",
          "--filter",
          "label=dev.entourage.sandbox=container",
          "--format",
          '{{.ID}} {{.Label "dev.entourage.host"}}',
        ]);
        const orphans = stdout.split("\n").filter((line) => line.includes("/pid:["));
        return orphans.length === 0 ? "none" : undefined;
      },
      60_000,
    );
    assert.equal(left, "none");
  });
});
