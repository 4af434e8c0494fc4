import { createInterface } from "node:readline/promises";
import { abortApplyRun, applyRun, describeReview, type ReviewItem } from "../../orchestrator/index.ts";
import { applyJournals, openStore } from "../compose.ts";
import { EXIT, reportError } from "../terminal/exit.ts";
import { colorEnabled, makeStyle } from "../terminal/style.ts";

const out = (text: string) => process.stdout.write(`${text}\n`);
const plural = (n: number) => `${n} file${n === 1 ? "" : "s"}`;

/**
 * `entourage apply <run> [--accept-risky] [--abort]`: writes the run's change into the user's checkout
 * (refusing if it changed underneath), asking first about changes that need review; finishes an apply
 * that was interrupted, or with `--abort` puts the checkout back exactly as it was before it.
 */
export async function applyCommand(
  runId: string,
  flags: { acceptRisky?: boolean; abort?: boolean } = {},
): Promise<number> {
  try {
    const store = await openStore();
    try {
      if (flags.abort) {
        const undone = await abortApplyRun(store, runId, { journals: applyJournals() });
        out(
          `Rolled back the interrupted apply of run ${runId} (started ${undone.startedAt}): ` +
            `${plural(undone.files.length)} in ${undone.target} are exactly as they were before it.`,
        );
        return EXIT.ok;
      }
      const result = await applyRun(store, runId, {
        journals: applyJournals(),
        acceptRisky: flags.acceptRisky,
        confirm: terminalConfirm(),
        onProgress: progressPrinter(),
      });
      const { files, target, state } = result;
      if (files.length === 0) {
        out(`Run ${runId} changed nothing; ${target} is unchanged.`);
        return EXIT.ok;
      }
      if (result.resumed)
        out(`Finished the interrupted apply of run ${runId} (started ${result.resumed.startedAt}).`);
      out(`Applied ${plural(files.length)} to ${target}:`);
      const flagged = new Set(result.review.map((i) => i.path));
      for (const f of files) if (!flagged.has(f)) out(`  ${f}`);
      if (result.review.length > 0) {
        out("and, reviewed (--accept-risky or your yes):");
        out(describeReview(result.review));
      }
      if (result.review.some((i) => i.path === ".entourage/config.json"))
        out(
          `Its settings that run code (plugins, MCP servers, sandbox…) stay off until you trust them: entourage trust ${target}`,
        );
      if (state.status !== "succeeded") out(`(note: the run ended as ${state.status}; review the change)`);
      return EXIT.ok;
    } finally {
      await store.close();
    }
  } catch (error) {
    return reportError(error);
  }
}

/** On a terminal: shows what needs review and asks y/N. Undefined without one (apply then refuses). */
function terminalConfirm(): ((items: ReviewItem[]) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return async (items) => {
    const s = makeStyle(colorEnabled(process.stdout));
    out(s.yellow(`${items.length} change(s) of this run need your review before they are written:`));
    out(describeReview(items));
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const answer = await rl.question("Apply them too? [y/N] ");
      return /^y(es)?$/i.test(answer.trim());
    } catch {
      return false; // Ctrl-D / Ctrl-C at the question
    } finally {
      rl.close();
    }
  };
}

/** A line on stderr every tenth of a large change, so a long apply is visibly alive. */
function progressPrinter(): (done: number, total: number) => void {
  let shown = 0;
  return (done, total) => {
    if (total < 500) return;
    const tenth = Math.floor((done * 10) / total);
    if (tenth <= shown && done !== total) return;
    shown = tenth;
    process.stderr.write(`applying: ${done} of ${total} files\n`);
  };
}
