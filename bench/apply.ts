/**
 * Apply benchmark: `Workspace.applyTo` of a ~3,000-file change (2,000 edits, 700 new files in new folders,
 * 300 deletions) into a real git checkout, which is reset with git between samples. The journal (backups
 * of every prior file, fsynced before the first write) is part of what is measured. To compare with an
 * older version, point it at that version's `src`: `node bench/apply.ts /tmp/old/src`. Printed, never
 * asserted.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

type Row = Record<string, string>;
type Table = (title: string, rows: Row[]) => void;
interface ApplyingWorkspace {
  dir: string;
  applyTo(target?: string): Promise<string[]>;
  snapshot(label: string): Promise<unknown>;
}

const SAMPLES = 5;

function generate(repo: string): void {
  for (let d = 0; d < 30; d++) {
    const sub = path.join(repo, `d${String(d).padStart(2, "0")}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(path.join(sub, `f${f}.txt`), `${d}/${f}\n`.repeat(20));
  }
  mkdirSync(path.join(repo, "gone"));
  for (let f = 0; f < 300; f++) writeFileSync(path.join(repo, "gone", `g${f}.txt`), `gone ${f}\n`);
}

function change(dir: string): void {
  execFileSync(
    "sh",
    [
      "-c",
      'for i in $(seq -w 0 19); do for f in d$i/*.txt; do echo changed >> "$f"; done; done; ' +
        'for j in $(seq 0 13); do mkdir -p new/n$j; for k in $(seq 1 50); do echo "new $j $k" > new/n$j/f$k.txt; done; done; ' +
        "rm -r gone",
    ],
    { cwd: dir },
  );
}

export async function applyBench(
  table: Table,
  src = path.join(import.meta.dirname, "..", "src"),
): Promise<void> {
  const { Workspace } = (await import(path.join(src, "workspace", "index.ts"))) as {
    Workspace: { create(o: { repo: string; dir: string }): Promise<ApplyingWorkspace> };
  };
  const tmp = mkdtempSync(path.join(tmpdir(), "entourage-bench-apply-"));
  try {
    const repo = path.join(tmp, "repo");
    mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=B", "-c", "user.email=b@b", ...args], {
        cwd: repo,
        stdio: "pipe",
      });
    git("init", "-q");
    generate(repo);
    git("add", "-A");
    git("commit", "-q", "-m", "bench");
    const workspace = await Workspace.create({ repo, dir: path.join(tmp, "run", "workspace") });
    change(workspace.dir);
    await workspace.snapshot("change");
    const samples: number[] = [];
    let files = 0;
    for (let i = 0; i < SAMPLES; i++) {
      execFileSync("sync");
      const start = performance.now();
      files = (await workspace.applyTo(repo)).length;
      samples.push(performance.now() - start);
      git("reset", "-q", "--hard");
      git("clean", "-q", "-f", "-d");
    }
    samples.sort((a, b) => a - b);
    table(`apply of a ${files}-file change (${SAMPLES} samples, ${src})`, [
      {
        median: `${samples[Math.floor(SAMPLES / 2)]!.toFixed(0)} ms`,
        min: `${samples[0]!.toFixed(0)} ms`,
        max: `${samples.at(-1)!.toFixed(0)} ms`,
        "per file": `${((samples[Math.floor(SAMPLES / 2)]! / files) * 1000).toFixed(0)} µs`,
      },
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  await applyBench((title, rows) => {
    console.log(`\n${title}\n`);
    for (const row of rows)
      console.log(
        Object.entries(row)
          .map(([k, v]) => `${k}: ${v}`)
          .join("  ·  "),
      );
  }, process.argv[2]);
}
