#!/usr/bin/env node
// Entry point. `--version` is answered without loading anything else, so it starts as fast as node itself.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) {
    process.stderr.write(
      `entourage needs Node.js 24 or newer (this is ${process.version}). Inside the project, run it through npm (npx entourage …): the pinned Node 24 comes with npm install.\n`,
    );
    process.exit(2);
  }
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv);
}
