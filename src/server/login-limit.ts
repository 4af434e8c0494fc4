import type { Context } from "hono";

/**
 * Failed sign-ins per client address: the bearer token on any route, the pasted token of the dashboard's
 * `/auth/login`, a used or made-up `?login=` code. The first `freeFailures` failures cost nothing (a
 * person mistyping); after that each failure blocks the address for `baseDelayMs`, doubling per failure
 * up to `maxDelayMs`. While blocked, every request that presents a credential to be checked is answered
 * 429 with `Retry-After`, *before* the credential is looked at — otherwise a guesser would still learn
 * the right answer at full speed. A success clears the address's record; a record nobody touched for
 * `forgetAfterMs` is dropped, and at most `maxAddresses` are kept (oldest first out), so a flood of
 * addresses cannot grow memory without bound. A valid dashboard session cookie is not a sign-in and is
 * never blocked.
 */
export interface LoginLimitOptions {
  /** Unix ms; injected so tests move time instead of sleeping. */
  now: () => number;
  freeFailures?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  forgetAfterMs?: number;
  maxAddresses?: number;
}

interface Failures {
  count: number;
  blockedUntil: number;
  lastAt: number;
}

export const LOGIN_LIMIT_DEFAULTS = {
  freeFailures: 10,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60 * 1000,
  forgetAfterMs: 60 * 60 * 1000,
  maxAddresses: 10_000,
} as const;

export class LoginLimiter {
  readonly #failures = new Map<string, Failures>();
  readonly #now: () => number;
  readonly #settings: Required<Omit<LoginLimitOptions, "now">>;

  constructor(options: LoginLimitOptions) {
    const { now, ...settings } = options;
    this.#now = now;
    this.#settings = { ...LOGIN_LIMIT_DEFAULTS, ...withoutUndefined(settings) };
  }

  /** Milliseconds until `address` may try again; 0 when it may try now. */
  retryAfterMs(address: string): number {
    const entry = this.#entry(address);
    return entry ? Math.max(0, entry.blockedUntil - this.#now()) : 0;
  }

  /** Records a failed sign-in from `address`; returns how long it is now blocked (0: not yet). */
  failed(address: string): number {
    const now = this.#now();
    const entry = this.#entry(address) ?? { count: 0, blockedUntil: 0, lastAt: now };
    entry.count += 1;
    entry.lastAt = now;
    const over = entry.count - this.#settings.freeFailures;
    if (over > 0) {
      const delay = Math.min(
        this.#settings.maxDelayMs,
        this.#settings.baseDelayMs * 2 ** Math.min(over - 1, 30),
      );
      entry.blockedUntil = now + delay;
    }
    // Re-insert so the map's order is least recently failed first.
    this.#failures.delete(address);
    this.#failures.set(address, entry);
    while (this.#failures.size > this.#settings.maxAddresses) {
      this.#failures.delete(this.#failures.keys().next().value as string);
    }
    return Math.max(0, entry.blockedUntil - now);
  }

  /** A successful sign-in: the address starts afresh. */
  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  #entry(address: string): Failures | undefined {
    const entry = this.#failures.get(address);
    if (!entry) return undefined;
    const now = this.#now();
    if (entry.blockedUntil <= now && now - entry.lastAt > this.#settings.forgetAfterMs) {
      this.#failures.delete(address);
      return undefined;
    }
    return entry;
  }
}

/** The answer to a blocked address: 429, `Retry-After` in whole seconds, the API's error shape. */
export function tooManyFailures(c: Context, retryAfterMs: number): Response {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  c.header("Retry-After", String(seconds));
  return c.json(
    {
      error: {
        code: "too_many_failed_logins",
        message: `Too many wrong tokens or sign-in codes from this address; try again in ${seconds} s. The token is ENTOURAGE_TOKEN or the contents of $ENTOURAGE_HOME/token.`,
      },
    },
    429,
  );
}

/**
 * The client's address as the socket saw it (`@hono/node-server` puts the Node request in `c.env`). An
 * in-process request (`app.request()`) has none and shares one record, "local".
 */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? "local";
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
