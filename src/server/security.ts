import type { Context, MiddlewareHandler } from "hono";
import { apiError } from "./errors.ts";
import { clientAddress, type LoginLimiter, tooManyFailures } from "./login-limit.ts";
import { tokenMatches } from "./token.ts";

export interface SecurityOptions {
  /** The expected bearer token. */
  token: string;
  /** The address the server listens on. */
  host: string;
  /** Require the token on every route but /health even on loopback. */
  requireToken?: boolean;
  /** Requests that never need the token (the dashboard's files and sign-in); Host and Origin still apply. */
  isPublic?: (c: Context) => boolean;
  /** A browser session (the dashboard's cookie) that stands in for the token. */
  hasSession?: (c: Context) => boolean;
  /** Failed tokens per client address: after a few, the address waits (429) before it may try again. */
  limiter?: LoginLimiter;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/**
 * The API's access rules, in order:
 * 1. Loopback server: the Host must be a loopback name (a DNS-rebinding page addresses us by its own
 *    name and is refused, 403).
 * 2. A browser request (it has an Origin) must come from the server's own origin (403 otherwise), and a
 *    cross-site fetch is refused whatever its headers (`Sec-Fetch-Site`). CORS stays closed: no
 *    Access-Control-* header is ever sent, so other origins cannot read answers either.
 * 3. The bearer token is required on every route but /health when the server listens beyond loopback,
 *    and always for state-changing requests from a browser (401). The dashboard's session cookie
 *    (httpOnly, SameSite=Strict) stands in for it; the dashboard's own files and sign-in need neither.
 * 4. A wrong token counts against the client's address (`LoginLimiter`); a blocked address gets 429 with
 *    Retry-After for any token it presents, right or wrong, until its wait is over.
 */
export function security(options: SecurityOptions): MiddlewareHandler {
  const loopbackServer = isLoopback(options.host) && !options.requireToken;
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (loopbackServer && !isLoopback(url.hostname)) {
      return apiError(
        c,
        403,
        "host_not_allowed",
        `This server listens on loopback only and answers requests addressed to 127.0.0.1 or localhost, not ${url.hostname}.`,
      );
    }
    const origin = c.req.header("origin");
    const fetchSite = c.req.header("sec-fetch-site");
    if (fetchSite === "cross-site" || fetchSite === "same-site") {
      return apiError(c, 403, "origin_not_allowed", "Cross-site requests are refused.");
    }
    if (origin !== undefined && origin !== url.origin) {
      return apiError(
        c,
        403,
        "origin_not_allowed",
        `Requests from ${origin} are refused: only pages served by this server (${url.origin}) may call it.`,
      );
    }
    const needsToken =
      (!loopbackServer && url.pathname !== "/health") ||
      (origin !== undefined && !SAFE_METHODS.has(c.req.method));
    if (needsToken && !options.isPublic?.(c)) {
      const auth = c.req.header("authorization");
      const presented = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
      const address = clientAddress(c);
      if (presented && options.limiter && !options.hasSession?.(c)) {
        const wait = options.limiter.retryAfterMs(address);
        if (wait > 0) return tooManyFailures(c, wait);
      }
      const matches = tokenMatches(presented, options.token);
      if (matches) options.limiter?.succeeded(address);
      if (!matches && !options.hasSession?.(c)) {
        const wait = presented ? (options.limiter?.failed(address) ?? 0) : 0;
        if (wait > 0) return tooManyFailures(c, wait);
        c.header("WWW-Authenticate", 'Bearer realm="entourage"');
        return apiError(
          c,
          401,
          "unauthorized",
          "A bearer token is required: send Authorization: Bearer <token>, where the token is ENTOURAGE_TOKEN or the contents of $ENTOURAGE_HOME/token.",
        );
      }
    }
    await next();
  };
}
