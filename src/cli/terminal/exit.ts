// errors.ts directly, not core/index.ts: the event schemas (zod) are not needed to print help.
import { EntourageError, errorMessage, UserError } from "../../core/errors.ts";
import { colorEnabled, makeStyle } from "./style.ts";

/** The CLI's exit codes (README: "Exit codes"). */
export const EXIT = { ok: 0, failed: 1, usage: 2, sigint: 130, sigpipe: 141, sigterm: 143 } as const;

/**
 * Prints an error the way every command does — one `error:` line; a person's mistake (UserError) exits 2,
 * anything else 1 with its code (the stack with ENTOURAGE_DEBUG=1) — and returns the exit code.
 */
export function reportError(error: unknown): number {
  const s = makeStyle(colorEnabled(process.stderr));
  if (UserError.isInstance(error)) {
    process.stderr.write(`${s.red("error:")} ${error.message}\n`);
    return EXIT.usage;
  }
  const code = EntourageError.isInstance(error) ? ` (${error.code})` : "";
  process.stderr.write(`${s.red("error:")} ${errorMessage(error)}${code}\n`);
  if (process.env.ENTOURAGE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return EXIT.failed;
}
