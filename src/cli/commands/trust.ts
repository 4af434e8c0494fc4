import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import {
  describeTrustItems,
  listTrust,
  loadProjectTrust,
  type ProjectTrust,
  recordTrust,
  revokeTrust,
} from "../../config/index.ts";
import { UserError } from "../../core/index.ts";
import { home } from "../compose.ts";
import type { TrustQuestion } from "../launcher.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

const out = (text = "") => process.stdout.write(`${text}\n`);

/**
 * `entourage trust [dir]`, `--revoke`, `--list`: the user's trust in a repository's settings that run code
 * or weaken safety (src/config/trust.ts). Trusting shows exactly what will load; the record is keyed to
 * the content of the config and the files it names, so any change asks again.
 */
export async function trustCommand(
  dir: string | undefined,
  flags: { revoke?: boolean; list?: boolean; json?: boolean },
): Promise<number> {
  try {
    if (flags.list) {
      const trusted = listTrust(home());
      if (flags.json) out(JSON.stringify(trusted, null, 2));
      else if (trusted.length === 0) out("No repository is trusted.");
      else
        for (const t of trusted)
          out(
            `${t.repo}  (since ${t.trustedAt})\n  ${t.settings.join("\n  ") || "(nothing that needs trust)"}`,
          );
      return EXIT.ok;
    }
    const repo = resolve(dir ?? ".");
    if (!existsSync(repo) || !statSync(repo).isDirectory())
      throw new UserError("repo_not_found", `${repo} does not exist or is not a directory.`);
    if (flags.revoke) {
      const had = revokeTrust(home(), repo);
      out(had ? `No longer trusted: ${repo}` : `${repo} was not trusted; nothing to revoke.`);
      return EXIT.ok;
    }
    const trust = loadProjectTrust({ home: home(), repo, env: {} })!;
    if (trust.items.length === 0) {
      out(`${trust.file} has no settings that need trust; runs on ${trust.repo} load all of it already.`);
      return EXIT.ok;
    }
    recordTrust(home(), trust);
    out(`Trusted ${trust.repo}. Runs there load these settings of ${trust.file}:`);
    out(describeTrustItems(trust.items));
    out("If the file or a file it names changes, you are asked again. Undo: entourage trust --revoke");
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

/**
 * The terminal's question before a run whose repository has untrusted settings; undefined when nobody can
 * answer (no terminal, --json): the run is then refused with the same list.
 */
export function terminalTrustQuestion(json: boolean | undefined): TrustQuestion | undefined {
  if (json || !process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return async (trust: ProjectTrust) => {
    const s = makeStyle(colorEnabled(process.stdout));
    const changed = trust.changedSinceTrusted ? " (it changed since you trusted it)" : "";
    out(
      s.yellow(`${trust.file}${changed} asks for settings that run code on your machine or weaken safety:`),
    );
    out(describeTrustItems(trust.items));
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      for (;;) {
        const answer = (
          await rl.question(`Trust ${trust.repo}? [y]es, load them · [n]o, run without them · [q]uit: `)
        )
          .trim()
          .toLowerCase();
        if (answer === "y" || answer === "yes") return "trust";
        if (answer === "n" || answer === "no") return "without";
        if (answer === "q" || answer === "quit") return "quit";
      }
    } catch {
      return "quit"; // Ctrl-D / Ctrl-C at the question
    } finally {
      rl.close();
    }
  };
}
