import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The dashboard's browser session, in place of the bearer token (which a page must never hold).
 *
 * - A **login code** is random, one-time and short-lived, kept in this process's memory. The server
 *   prints it in the dashboard URL (`/?login=<code>`); opening that URL exchanges it for a session
 *   cookie and redirects to the clean URL, so the code leaves the address bar and the history at once.
 * - The **session cookie** is `v1.<expiresAt>.<nonce>.<mac>`, the mac an HMAC-SHA256 keyed by the API
 *   token over the rest and the server's port. It is verified without server-side state, so an open
 *   page keeps working across a server restart, and rotating the token ends every session. It is
 *   httpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and scoped by name to
 *   the port, since browsers share cookies between the ports of one host.
 */

/** How long a session lasts. */
export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
/** How long a printed login code stays usable if nobody opens it. */
export const LOGIN_CODE_TTL_MS = 24 * 3600 * 1000;
const MAX_CODES = 64;

/** The cookie's name for a server on `port`: cookies are per host, not per port. */
export function sessionCookieName(port: string): string {
  return `entourage_session_${port.replace(/\D/g, "") || "80"}`;
}

function mac(token: string, port: string, body: string): string {
  return createHmac("sha256", token).update(`entourage-dashboard:${port}|${body}`).digest("base64url");
}

/** A new session value, valid on the server of `port` that holds `token` until `now + ttl`. */
export function mintSession(token: string, port: string, now = Date.now(), ttlMs = SESSION_TTL_MS): string {
  const body = `v1.${now + ttlMs}.${randomBytes(12).toString("base64url")}`;
  return `${body}.${mac(token, port, body)}`;
}

/** True if `value` is a session this token minted for this port and it has not expired. */
export function verifySession(
  value: string | undefined,
  token: string,
  port: string,
  now = Date.now(),
): boolean {
  if (!value || value.length > 200) return false;
  const parts = value.split(".");
  if (parts.length !== 4 || parts[0] !== "v1") return false;
  const expiresAt = Number(parts[1]);
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return false;
  const expected = Buffer.from(mac(token, port, parts.slice(0, 3).join(".")));
  const presented = Buffer.from(parts[3]!);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a session (or, with `value` empty, for ending it). */
export function sessionCookie(name: string, value: string, maxAgeMs = SESSION_TTL_MS): string {
  const maxAge = value ? Math.floor(maxAgeMs / 1000) : 0;
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}

/** One-time login codes, held in memory: each opens one session, once, before it expires. */
export class LoginCodes {
  readonly #codes = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? LOGIN_CODE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** A fresh code (256 random bits). The oldest codes are dropped beyond a small number outstanding. */
  mint(): string {
    const code = randomBytes(32).toString("base64url");
    this.#codes.set(code, this.#now() + this.#ttlMs);
    while (this.#codes.size > MAX_CODES) this.#codes.delete(this.#codes.keys().next().value!);
    return code;
  }

  /** True the first time a valid, unexpired code is presented; false ever after. */
  consume(code: string | undefined): boolean {
    if (!code) return false;
    const expiresAt = this.#codes.get(code);
    if (expiresAt === undefined) return false;
    this.#codes.delete(code);
    return expiresAt > this.#now();
  }
}

/** The dashboard's sign-in URL for the server at `baseUrl` (e.g. http://127.0.0.1:4317), with a fresh code. */
export function loginUrl(baseUrl: string, codes: LoginCodes): string {
  return `${baseUrl.replace(/\/$/, "")}/?login=${codes.mint()}`;
}
