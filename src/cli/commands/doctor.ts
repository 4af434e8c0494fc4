import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, loadProjectTrust } from "../../config/index.ts";
import { errorMessage } from "../../core/index.ts";
import type { SandboxBackendName } from "../../sandbox/index.ts";
import { detectTestCommand, findRepoRoot } from "../../workspace/index.ts";
import { createSandbox, detectMounts, home, tightenHome } from "../compose.ts";
import { chooseDockerImage } from "../image-choice.ts";
import { storeLocation } from "../store-choice.ts";
import { reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

/** The toolchains `doctor` looks for in each sandbox, and how each says its version. */
const TOOLS: readonly { name: string; version: string }[] = [
  { name: "node", version: "node --version" },
  { name: "npm", version: "npm --version" },
  { name: "python3", version: "python3 --version" },
  { name: "pytest", version: "python3 -m pytest --version" },
  { name: "go", version: "go version" },
  { name: "cargo", version: "cargo --version" },
];

/** One line per tool, `name<TAB>version` or `name<TAB>-`; then the test command's program. */
function probeScript(testProgram: string | undefined): string {
  const lines = TOOLS.map(
    (t) =>
      `v=$( (${t.version}) 2>/dev/null | head -1 ); [ -n "$v" ] && printf '%s\\t%s\\n' ${t.name} "$v" || printf '%s\\t-\\n' ${t.name}`,
  );
  if (testProgram)
    lines.push(
      `command -v '${testProgram.replace(/'/g, "")}' >/dev/null && echo 'test\tfound' || echo 'test\t-'`,
    );
  return lines.join("\n");
}

interface SandboxReport {
  backend: string;
  available: boolean;
  reason?: string;
  image?: string;
  tools: Record<string, string>;
  /** Whether the test command's program (`npm` of `npm test`) is found there. */
  testProgram?: boolean;
}

interface RepoReport {
  root: string;
  /** The repository's settings that need trust, and whether they load (src/config/trust.ts). */
  settings: { file: string; trusted: boolean; changedSinceTrusted: boolean; waiting: string[] };
  testCommand?: { command: string; source: string };
  dependencies: string[];
  sandboxes: SandboxReport[];
}

/**
 * What each available sandbox can run for the repository at hand: each one is created exactly as a run's
 * would be (its dependency folders mounted, the user's toolchain, the language image for docker) on an
 * empty scratch workspace, and asked for the toolchains' versions.
 */
async function repoReport(repoDir: string, available: readonly SandboxBackendName[]): Promise<RepoReport> {
  const root = await findRepoRoot(repoDir);
  const config = loadConfig({ home: home(), repo: root });
  const trust = loadProjectTrust({ home: home(), repo: root })!;
  const settings = {
    file: trust.file,
    trusted: trust.trusted,
    changedSinceTrusted: trust.changedSinceTrusted,
    waiting: trust.items.map((i) => `${i.setting}: ${i.value}`),
  };
  const mounts = await detectMounts(root, config, "off");
  const testCommand = config.testCommand
    ? { command: config.testCommand, source: "configured" }
    : await detectTestCommand(root);
  const testProgram = testCommand?.command.trim().split(/\s+/)[0];
  const sandboxes: SandboxReport[] = [];
  for (const backend of available) {
    const scratch = mkdtempSync(join(tmpdir(), "entourage-doctor-"));
    const report: SandboxReport = { backend, available: true, tools: {} };
    try {
      const image =
        backend === "docker" || backend === "gvisor"
          ? await chooseDockerImage(config.image, root).catch(() => undefined)
          : undefined;
      if (image) report.image = `${image.image} (${image.reason})`;
      const sandbox = await createSandbox(backend, scratch, {
        network: "off",
        timeoutMs: 60_000,
        env: config.sandboxEnv,
        mounts,
        image: image?.image,
      });
      try {
        const result = await sandbox.exec(["bash", "-c", probeScript(testProgram)]);
        for (const line of result.output.split("\n")) {
          const [name, value] = line.split("\t");
          if (name === "test") report.testProgram = value === "found";
          else if (name && value !== undefined) report.tools[name] = value.trim();
        }
      } finally {
        await sandbox.destroy();
      }
    } catch (error) {
      report.available = false;
      report.reason = errorMessage(error);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    sandboxes.push(report);
  }
  return { root, settings, testCommand, dependencies: mounts.dependencies.map((d) => d.path), sandboxes };
}

interface StoreReport {
  kind: "postgres" | "sqlite";
  /** The URL without its password, or the file. */
  location: string;
  source: string;
  ok: boolean;
  detail: string;
}

/** Which event store the commands use and whether it opens (PostgreSQL: connected and migrated). */
async function storeReport(): Promise<StoreReport> {
  const location = storeLocation();
  const base = { kind: location.kind, location: location.display, source: location.source };
  if (location.kind === "sqlite") {
    return {
      ...base,
      ok: true,
      detail: existsSync(location.path) ? "SQLite" : "SQLite, created on the first run",
    };
  }
  try {
    const { probePostgresStore } = await import("../../store/backends/postgres.ts");
    const info = await probePostgresStore(location.url);
    return {
      ...base,
      ok: true,
      detail: `PostgreSQL ${info.serverVersion}, schema version ${info.schemaVersion}, ${info.runs} run${info.runs === 1 ? "" : "s"}`,
    };
  } catch (error) {
    return { ...base, ok: false, detail: errorMessage(error) };
  }
}

/**
 * `entourage doctor`: what works here — the event store, each sandbox backend, which one a run would use — and, for the
 * repository at hand (`--repo`, default the current directory when it is a git checkout), what each sandbox
 * can run: the toolchains' versions there, the dependency folders mounted, the test command's program.
 */
export async function doctorCommand(opts: { json?: boolean; repo?: string }): Promise<number> {
  try {
    const { backends, selectDefaultBackend } = await import("../../sandbox/backends/index.ts");
    const rows: {
      backend: SandboxBackendName;
      available: boolean;
      isolated: boolean;
      reason?: string;
      details?: Record<string, string>;
    }[] = [];
    for (const [name, make] of Object.entries(backends)) {
      if (!make) continue;
      const backend = make();
      const probe = await backend
        .probe()
        .catch((e: unknown) => ({ available: false, reason: String(e), details: undefined }));
      rows.push({
        backend: name as SandboxBackendName,
        available: probe.available,
        isolated: backend.isolated,
        reason: probe.reason,
        details: probe.details,
      });
    }
    const selected = await selectDefaultBackend();
    const node = { version: process.version, execPath: process.execPath };
    const store = await storeReport();
    const available = rows.filter((r) => r.available).map((r) => r.backend);
    let repo: RepoReport | undefined;
    let repoNote: string | undefined;
    try {
      repo = await repoReport(opts.repo ?? ".", available);
    } catch (error) {
      // Without --repo, a directory that is no checkout only skips the repository part.
      if (opts.repo) throw error;
      repoNote = `no repository here (${errorMessage(error).split(". ")[0]}); pass --repo <dir> to check one`;
    }
    // Checked (and tightened) on every start; doctor says what it found.
    const loose = tightenHome({ everyRun: true });
    const homeReport = {
      path: home(),
      madePrivate: loose.filter((p) => p.now !== undefined).map((p) => ({ path: p.path, was: octal(p.was) })),
      stillOpen: loose.filter((p) => p.now === undefined).map((p) => ({ path: p.path, mode: octal(p.was) })),
    };
    if (opts.json) {
      const out = {
        node,
        home: homeReport,
        store,
        backends: rows,
        default: selected.backend?.name ?? null,
        repo: repo ?? null,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const s = makeStyle(colorEnabled(process.stdout));
    const out = (line = "") => process.stdout.write(`${line}\n`);
    out(
      `${s.bold("entourage doctor")}\n\nnode ${node.version} (${node.execPath}; Entourage's own runtime)\n`,
    );
    out(
      homeReport.stillOpen.length > 0
        ? s.red(
            `home ${homeReport.path}: readable by others, could not change ${homeReport.stillOpen.map((p) => `${p.path} (${p.mode})`).join(", ")}: chmod go-rwx them`,
          )
        : homeReport.madePrivate.length > 0
          ? s.yellow(
              `home ${homeReport.path}: was readable by others; made private now (0700/0600): ${homeReport.madePrivate.map((p) => `${p.path} (was ${p.was})`).join(", ")}`,
            )
          : `home ${homeReport.path}: private (directories 0700, files 0600)`,
    );
    if (store.ok)
      out(
        `event store: ${s.green("✔")} ${store.location} ${s.dim(`(${store.detail}; from ${store.source})`)}`,
      );
    else
      out(
        `event store: ${s.red("✘")} ${store.location} ${s.dim(`(from ${store.source})`)}\n  ${s.red(store.detail)}`,
      );
    out("\nsandbox backends:");
    for (const r of rows) {
      const mark = r.available ? s.green("✔") : s.red("✘");
      const iso = r.isolated ? "" : s.yellow(" (no isolation)");
      out(`  ${mark} ${r.backend}${iso}${r.available ? "" : `: ${r.reason ?? "unavailable"}`}`);
      for (const [k, v] of Object.entries(r.details ?? {})) out(s.dim(`      ${k}: ${v}`));
    }
    out(
      selected.backend
        ? `\nruns use: ${s.bold(selected.backend.name)} (pass --sandbox to choose another)`
        : `\n${s.red("no isolating sandbox works here")}: runs refuse to start unless you pass --sandbox subprocess (trusted code only).`,
    );
    if (repoNote) out(s.dim(`\n${repoNote}`));
    if (repo) printRepo(repo, s, out);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

function printRepo(repo: RepoReport, s: ReturnType<typeof makeStyle>, out: (line?: string) => void): void {
  out(`\nrepository ${s.bold(repo.root)}`);
  const { settings } = repo;
  if (settings.waiting.length > 0) {
    out(
      settings.trusted
        ? `  repository settings: trusted (${settings.waiting.join("; ")})`
        : s.yellow(
            `  repository settings NOT loaded until you trust it${settings.changedSinceTrusted ? " (changed since you trusted it)" : ""}: ${settings.waiting.join("; ")}\n    review ${settings.file}, then: entourage trust ${repo.root}`,
          ),
    );
  }
  out(
    repo.testCommand
      ? `  test command: ${repo.testCommand.command} ${s.dim(`(${repo.testCommand.source})`)}`
      : s.yellow("  test command: none found (runs will say not verified; set testCommand)"),
  );
  out(
    `  dependency folders mounted read-only: ${repo.dependencies.length ? repo.dependencies.join(", ") : s.dim("none")}`,
  );
  if (repo.sandboxes.length === 0) return;
  out("\n  what each sandbox runs for it:");
  const header = ["", ...repo.sandboxes.map((x) => x.backend)];
  const rows = TOOLS.map((t) => [
    t.name,
    ...repo.sandboxes.map((x) => (x.available ? (x.tools[t.name] ?? "-") : "-")),
  ]);
  if (repo.testCommand) {
    const program = repo.testCommand.command.trim().split(/\s+/)[0] ?? "";
    rows.push([
      `test (${program})`,
      ...repo.sandboxes.map((x) => (!x.available ? "-" : x.testProgram ? "found" : "NOT FOUND")),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `    ${cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd();
  out(s.dim(line(header)));
  for (const row of rows) {
    const text = line(row);
    out(row[0]?.startsWith("test") && text.includes("NOT FOUND") ? s.red(text) : text);
  }
  for (const x of repo.sandboxes) {
    if (x.image) out(s.dim(`    ${x.backend} image: ${x.image}`));
    if (!x.available) out(s.red(`    ${x.backend}: ${x.reason}`));
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}
