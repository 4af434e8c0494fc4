import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/index.ts";

/**
 * The API's bearer token: `ENTOURAGE_TOKEN` when set, else `$ENTOURAGE_HOME/token`, generated once
 * (256 random bits, file mode 0600) and reused by every server and client on this machine.
 */
export function loadOrCreateToken(home: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.ENTOURAGE_TOKEN?.trim();
  if (fromEnv) {
    if (fromEnv.length < 16)
      throw new UserError("token_too_short", "ENTOURAGE_TOKEN must be at least 16 characters long.");
    return fromEnv;
  }
  const path = join(home, "token");
  const existing = readToken(path);
  if (existing) return existing;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("base64url");
  try {
    // `wx`: if another process created it meanwhile, use theirs.
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch {
    const raced = readToken(path);
    if (raced) return raced;
    throw new UserError("token_unwritable", `Could not create the API token file ${path}.`);
  }
  chmodSync(path, 0o600);
  return token;
}

/** The token a client sends: `ENTOURAGE_TOKEN`, else the token file if it exists (never created here). */
export function readClientToken(home: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.ENTOURAGE_TOKEN?.trim() || readToken(join(home, "token"));
}

function readToken(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
