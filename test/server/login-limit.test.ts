import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sequentialIds } from "../../src/core/index.ts";
import { createApp, listen } from "../../src/server/index.ts";
import { LoginLimiter } from "../../src/server/login-limit.ts";
import { createMemoryEventStore } from "../../src/store/index.ts";
import { TOKEN } from "./harness.ts";

interface Reply {
  status: number;
  retryAfter?: string;
  body: string;
}

/** One request over a real socket from `host` (127.0.0.1 or ::1: two client addresses of this machine). */
function send(
  host: string,
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host, port, path, method: options.method ?? "GET", headers: options.headers },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A real server listening on every address (IPv4 and IPv6), with a clock the test moves. */
async function serve() {
  let now = 1_700_000_000_000;
  const app = createApp({
    store: createMemoryEventStore(),
    runs: new Map(),
    clock: () => now,
    ids: sequentialIds(),
    applyJournals: join(tmpdir(), "entourage-test-applies"),
    token: TOKEN,
    workspaceDir: (id) => join(tmpdir(), "entourage-test-forks", id, "workspace"),
    options: { host: "::", log: () => {} },
  });
  const listening = await listen(app, { host: "::", port: 0 });
  return {
    port: listening.port,
    advance: (ms: number) => {
      now += ms;
    },
    close: () => listening.close(),
  };
}

describe("failed token logins are rate limited per client address", () => {
  it("hammering wrong bearer tokens gets 429 with Retry-After, doubling; the right token works after the wait", async () => {
    const server = await serve();
    try {
      const v4 = (headers: Record<string, string>) => send("127.0.0.1", server.port, "/runs", { headers });
      for (let i = 1; i <= 10; i++) {
        assert.equal((await v4(bearer(`wrong-token-number-${i}`))).status, 401, `wrong token ${i}`);
      }
      const blocked = await v4(bearer("wrong-token-number-11"));
      assert.equal(blocked.status, 429);
      assert.equal(blocked.retryAfter, "1");
      assert.equal(JSON.parse(blocked.body).error.code, "too_many_failed_logins");
      // While the address waits, even the right token is not looked at: a guesser learns nothing.
      const rightTooSoon = await v4(bearer(TOKEN));
      assert.equal(rightTooSoon.status, 429);
      server.advance(1000);
      // The next wrong one waits twice as long.
      assert.equal((await v4(bearer("wrong-token-number-12"))).retryAfter, "2");
      server.advance(1999);
      assert.equal((await v4(bearer(TOKEN))).status, 429, "still inside the 2 s window");

      // Another address of the same machine was never blocked and signs in at once.
      assert.equal((await send("::1", server.port, "/runs", { headers: bearer(TOKEN) })).status, 200);

      server.advance(1);
      assert.equal((await v4(bearer(TOKEN))).status, 200, "the right token after the window");
      // A success clears the record: a mistyped token is a plain 401 again.
      assert.equal((await v4(bearer("one-more-typo-here"))).status, 401);
      // No credential at all is not a failed login.
      for (let i = 0; i < 20; i++) assert.equal((await v4({})).status, 401);
      assert.equal((await v4(bearer(TOKEN))).status, 200);
    } finally {
      await server.close();
    }
  });

  it("the dashboard's pasted token and made-up login codes count against the same address", async () => {
    const server = await serve();
    try {
      const login = (token: string) =>
        send("127.0.0.1", server.port, "/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token }),
        });
      for (let i = 0; i < 5; i++) assert.equal((await login(`pasted-wrong-${i}`)).status, 401);
      for (let i = 0; i < 5; i++) {
        const r = await send("127.0.0.1", server.port, `/?login=made-up-code-${i}`);
        assert.equal(r.status, 303, "an unknown code still redirects while failures are free");
      }
      const eleventh = await login("pasted-wrong-again");
      assert.equal(eleventh.status, 429);
      assert.equal(eleventh.retryAfter, "1");
      assert.equal((await login(TOKEN)).status, 429);
      assert.equal((await send("127.0.0.1", server.port, "/runs", { headers: bearer(TOKEN) })).status, 429);
      server.advance(1000);
      assert.equal((await login(TOKEN)).status, 204, "signed in once the wait is over");
    } finally {
      await server.close();
    }
  });

  it("forgets an address after an hour without failures, and keeps a bounded number of addresses", () => {
    let now = 0;
    const limiter = new LoginLimiter({ now: () => now, freeFailures: 2, maxAddresses: 3 });
    assert.equal(limiter.failed("a"), 0);
    assert.equal(limiter.failed("a"), 0);
    assert.equal(limiter.failed("a"), 1000);
    now += 1000;
    assert.equal(limiter.retryAfterMs("a"), 0);
    assert.equal(limiter.failed("a"), 2000);
    now += 60 * 60 * 1000 + 2001;
    assert.equal(limiter.failed("a"), 0, "an hour later the count starts afresh");
    assert.equal(limiter.failed("a"), 0);
    for (const address of ["b", "c", "d"]) {
      limiter.failed(address);
      limiter.failed(address);
      limiter.failed(address);
    }
    assert.equal(limiter.retryAfterMs("d"), 1000);
    // "a" (two failures) failed least recently and was dropped when "d" came: at most 3 addresses are kept.
    assert.equal(limiter.failed("a"), 0, "a third failure of a kept address would block it");
  });
});
