import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { packagePath } from "../core/package-files.ts";
import { apiError } from "./errors.ts";
import { clientAddress, type LoginLimiter, tooManyFailures } from "./login-limit.ts";
import { isLoopback } from "./security.ts";
import {
  LoginCodes,
  loginUrl,
  mintSession,
  readCookie,
  sessionCookie,
  sessionCookieName,
  verifySession,
} from "./session.ts";
import { tokenMatches } from "./token.ts";

/**
 * Serves the dashboard (the React app built by Vite into `web/dist`) and its sign-in.
 *
 * Pages: `/` (runs) and `/runs/<id>` (a run). `/runs/<id>` is also the API's JSON route: a browser's
 * page navigation (`Sec-Fetch-Dest: document`, or an Accept that asks for HTML) gets the app, every other
 * client the JSON, so a run's address is the same for people and programs.
 *
 * Sign-in (see session.ts): the URL the server prints carries `?login=<one-time code>`; opening it sets
 * an httpOnly, SameSite=Strict session cookie and redirects to `/`. The page never sees the token. The
 * cookie stands in for the bearer token, so state-changing requests from the page pass `security()`.
 */
export interface DashboardOptions {
  token: string;
  /** The address the server listens on: beyond loopback, reads need a session too. */
  host: string;
  requireToken?: boolean;
  /** The built app (default: web/dist of this package). */
  dir?: string;
  now?: () => number;
  /** Counts wrong pasted tokens and unknown login codes per client address (shared with the API's). */
  limiter?: LoginLimiter;
  /** The one-time sign-in codes (default: its own); a server loaded on its first request was given them. */
  loginCodes?: LoginCodes;
}

export interface Dashboard {
  /** A sign-in URL for the dashboard at `baseUrl` (e.g. http://127.0.0.1:4317): works once. */
  loginUrl(baseUrl: string): string;
  /** Requests anyone may make: the app's files and the sign-in routes (no run data). */
  isPublic(c: Context): boolean;
  /** True if the request carries a valid dashboard session cookie. */
  hasSession(c: Context): boolean;
  /** Registers the routes; call after the security middleware. */
  register(app: OpenAPIHono): void;
}

const DEFAULT_DIR = packagePath("web/dist/");
const RUN_PAGE = /^\/runs\/[A-Za-z0-9_-]{1,128}\/?$/;
/** A built file: hashed names, no dot first (no `..`), no slash. */
const ASSET = /^\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
};

/** No script, style or connection leaves this server; nothing may frame the page. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function portOf(c: Context): string {
  const url = new URL(c.req.url);
  return url.port || (url.protocol === "https:" ? "443" : "80");
}

/** A page load by a browser (not fetch(), not curl, not EventSource). */
export function isPageNavigation(c: Context): boolean {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return false;
  const dest = c.req.header("sec-fetch-dest");
  if (dest !== undefined) return dest === "document";
  return (c.req.header("accept") ?? "").includes("text/html");
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const dir = options.dir ?? DEFAULT_DIR;
  const now = options.now ?? Date.now;
  const codes = options.loginCodes ?? new LoginCodes({ now });
  const readsNeedSession = !isLoopback(options.host) || options.requireToken === true;

  const hasSession = (c: Context) => {
    const name = sessionCookieName(portOf(c));
    return verifySession(readCookie(c.req.header("cookie"), name), options.token, portOf(c), now());
  };

  const startSession = (c: Context) => {
    c.header(
      "Set-Cookie",
      sessionCookie(sessionCookieName(portOf(c)), mintSession(options.token, portOf(c), now())),
    );
  };

  const page = async (c: Context) => {
    const html = await readFile(join(dir, "index.html"), "utf8").catch(() => undefined);
    c.header("Cache-Control", "no-store");
    c.header("Content-Security-Policy", CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    if (html === undefined) {
      return c.html(
        "<!doctype html><title>Entourage</title><p>The dashboard is not built. Run <code>npm run build</code> in the Entourage package, then reload.</p>",
      );
    }
    return c.html(html);
  };

  return {
    loginUrl: (baseUrl) => loginUrl(baseUrl, codes),
    hasSession,
    isPublic(c) {
      const path = c.req.path;
      if (c.req.method === "POST") return path === "/auth/login" || path === "/auth/logout";
      if (c.req.method !== "GET" && c.req.method !== "HEAD") return false;
      return (
        path === "/" ||
        path === "/auth/session" ||
        ASSET.test(path) ||
        (RUN_PAGE.test(path) && isPageNavigation(c))
      );
    },
    register(app) {
      app.get("/", async (c) => {
        const code = c.req.query("login");
        if (code === undefined) return page(c);
        c.header("Cache-Control", "no-store");
        c.header("Referrer-Policy", "no-referrer");
        const address = clientAddress(c);
        const signedIn = hasSession(c);
        const wait = signedIn ? 0 : (options.limiter?.retryAfterMs(address) ?? 0);
        if (wait > 0) return tooManyFailures(c, wait);
        if (codes.consume(code)) {
          options.limiter?.succeeded(address);
          startSession(c);
          return c.redirect("/", 303);
        }
        // A used or expired link: a browser that signed in with it already just goes on.
        if (signedIn) return c.redirect("/", 303);
        // Anyone else presented a code that opens nothing: a failed sign-in.
        const blocked = options.limiter?.failed(address) ?? 0;
        if (blocked > 0) return tooManyFailures(c, blocked);
        return c.redirect("/?signin=expired", 303);
      });

      // The run page, for page loads only; other requests fall through to the API route.
      app.get("/runs/:id", async (c, next) => {
        if (!isPageNavigation(c) || !RUN_PAGE.test(c.req.path)) return next();
        return page(c);
      });

      app.get("/assets/:name", async (c) => {
        const name = c.req.param("name");
        if (!ASSET.test(`/assets/${name}`)) return apiError(c, 404, "not_found", "No such file.");
        const body = await readFile(join(dir, "assets", name)).catch(() => undefined);
        if (!body)
          return apiError(c, 404, "not_found", `No dashboard file ${name}. Rebuild with npm run build.`);
        c.header("Content-Type", CONTENT_TYPES[extname(name)] ?? "application/octet-stream");
        // File names carry a content hash: a changed file has a new name.
        c.header("Cache-Control", "public, max-age=31536000, immutable");
        c.header("X-Content-Type-Options", "nosniff");
        return c.body(body);
      });

      app.get("/auth/session", (c) => {
        c.header("Cache-Control", "no-store");
        return c.json({ signedIn: hasSession(c), readsNeedSession });
      });

      // Signing in by pasting the token (the printed link was used up, or this is another browser).
      app.post("/auth/login", async (c) => {
        const body = (await c.req.json().catch(() => undefined)) as { token?: unknown } | undefined;
        const token = typeof body?.token === "string" ? body.token.trim() : undefined;
        const address = clientAddress(c);
        const wait = options.limiter?.retryAfterMs(address) ?? 0;
        if (wait > 0) return tooManyFailures(c, wait);
        if (!tokenMatches(token, options.token)) {
          const blocked = options.limiter?.failed(address) ?? 0;
          if (blocked > 0) return tooManyFailures(c, blocked);
          return apiError(
            c,
            401,
            "unauthorized",
            "That is not this server's token (ENTOURAGE_TOKEN, or the contents of $ENTOURAGE_HOME/token).",
          );
        }
        options.limiter?.succeeded(address);
        startSession(c);
        return c.body(null, 204);
      });

      app.post("/auth/logout", (c) => {
        c.header("Set-Cookie", sessionCookie(sessionCookieName(portOf(c)), ""));
        return c.body(null, 204);
      });
    },
  };
}
