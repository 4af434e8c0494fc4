/**
 * The docker backend on a remote engine (a second dockerd on this machine over mutual TLS, started here;
 * test/support/sandbox/remote-dockerd.ts) beside the same commands on the local engine: the cost of the
 * workspace sync around each command, for an idle workspace, one with many files, a command that writes a
 * file (download) and a host-side edit before a command (upload). Timings are printed, never asserted.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { errorMessage } from "../src/core/index.ts";
import { DEFAULT_SANDBOX_IMAGE } from "../src/sandbox/backends/docker/client.ts";
import { createDockerBackend } from "../src/sandbox/backends/index.ts";
import { DEFAULT_LIMITS, type Sandbox, type SandboxBackend } from "../src/sandbox/index.ts";
import { startRemoteDockerd } from "../test/support/sandbox/remote-dockerd.ts";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;

const RUNS = 30;
const WARMUP = 5;
/** The "many files" workspace: 20 folders of 50 files of 1 KiB. */
const MANY = { dirs: 20, files: 50, bytes: 1024 };

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function p50(run: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await run(-1 - i);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run(i);
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

function manyFiles(dir: string): void {
  for (let d = 0; d < MANY.dirs; d++) {
    mkdirSync(path.join(dir, `dir${d}`));
    for (let f = 0; f < MANY.files; f++)
      writeFileSync(path.join(dir, `dir${d}`, `file${f}.txt`), "x".repeat(MANY.bytes));
  }
}

/** The p50 of each case on `backend`, in a fresh workspace per case. */
async function cases(backend: SandboxBackend, root: string): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const measure = async (
    name: string,
    prepare: (dir: string) => void,
    run: (sb: Sandbox, dir: string, i: number) => Promise<unknown>,
  ) => {
    const dir = mkdtempSync(path.join(root, "ws-"));
    prepare(dir);
    const sandbox = await backend.create({ workspace: dir, network: "off", limits: DEFAULT_LIMITS });
    try {
      results[name] = await p50((i) => run(sandbox, dir, i));
    } finally {
      await sandbox.destroy();
    }
  };
  const none = () => {};
  await measure(
    "exec ['true'], 1 file in the workspace",
    (dir) => writeFileSync(path.join(dir, "a.txt"), "a"),
    (sb) => sb.exec(["true"]),
  );
  await measure(
    `exec ['true'], ${MANY.dirs * MANY.files} files (${(MANY.dirs * MANY.files * MANY.bytes) / 1024} KiB) unchanged`,
    manyFiles,
    (sb) => sb.exec(["true"]),
  );
  await measure("a command writes one 1 KiB file (it comes back)", none, (sb, _dir, i) =>
    sb.exec(["sh", "-c", `head -c 1024 /dev/zero > out${i}.bin`]),
  );
  await measure("the host edits one file, then exec ['true'] (it goes up)", none, async (sb, dir, i) => {
    writeFileSync(path.join(dir, "edited.txt"), `edit ${i}\n`);
    await sb.exec(["true"]);
  });
  await measure(
    `a command touches all ${MANY.dirs * MANY.files} files (one whole-workspace archive back)`,
    manyFiles,
    (sb, _dir, i) => sb.exec(["sh", "-c", `for f in dir*/*.txt; do echo ${i} >> "$f"; done`]),
  );
  return results;
}

export async function remoteSandboxBench(table: Table): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), "entourage-bench-remote-"));
  const rows: Row[] = [];
  let remote: Awaited<ReturnType<typeof startRemoteDockerd>> | undefined;
  try {
    const local = createDockerBackend();
    const probe = await local.probe();
    if (!probe.available) throw new Error(probe.reason ?? "the local engine is unavailable");
    remote = await startRemoteDockerd([DEFAULT_SANDBOX_IMAGE]);
    const cert = (name: string) => readFileSync(path.join(remote!.certDir, name));
    const port = Number(remote.host.split(":").pop());
    const far = createDockerBackend({
      docker: {
        host: "127.0.0.1",
        port,
        protocol: "https",
        ca: cert("ca.pem"),
        cert: cert("cert.pem"),
        key: cert("key.pem"),
      },
    });
    const here = await cases(local, root);
    const there = await cases(far, root);
    for (const [name, value] of Object.entries(here)) {
      const away = there[name]!;
      rows.push({
        command: name,
        "local (bind mount)": ms(value),
        "remote (TLS, sync)": ms(away),
        ratio: `${(away / value).toFixed(2)}×`,
      });
    }
  } catch (error) {
    rows.push({
      command: "docker on a remote engine",
      "local (bind mount)": "—",
      "remote (TLS, sync)": "—",
      ratio: `unavailable: ${errorMessage(error)}`,
    });
  } finally {
    await remote?.stop();
    rmSync(root, { recursive: true, force: true });
  }
  table(
    `Docker backend: local engine vs a remote engine over TLS (second dockerd on this machine; p50 of ${RUNS} after ${WARMUP} warm-up)`,
    rows,
  );
}
