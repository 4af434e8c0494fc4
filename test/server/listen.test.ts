import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listen } from "../../src/server/listen.ts";
import { LoginCodes, loginUrl } from "../../src/server/session.ts";
import { createHarness } from "./harness.ts";

/**
 * A CLI run's own server listens at once and makes its app (Hono, routes, schemas) on the first request.
 * What a user sees must not change: the link printed before the app existed signs in, the requests that
 * came first are answered, and an app that cannot load says so instead of hanging.
 */
describe("a server whose app is made on its first request", () => {
  it("answers the requests that arrived while the app was being made, and the link printed before it signs in", async () => {
    const loginCodes = new LoginCodes();
    let made = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const listening = await listen(
      async () => {
        made++;
        await released;
        return createHarness({ loginCodes }).app;
      },
      { host: "127.0.0.1", port: 0 },
    );
    try {
      const link = loginUrl(listening.url, loginCodes);
      const health = fetch(`${listening.url}/health`);
      const signIn = fetch(link, { redirect: "manual", headers: { "sec-fetch-dest": "document" } });
      while (made === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      release();
      const [h, s] = await Promise.all([health, signIn]);
      assert.equal(h.status, 200);
      assert.equal(((await h.json()) as { ok: boolean }).ok, true);
      assert.equal(s.status, 303);
      assert.equal(s.headers.get("location"), "/");
      assert.match(s.headers.get("set-cookie") ?? "", /^entourage_session_\d+=v1\./);
      assert.equal((await fetch(`${listening.url}/health`)).status, 200);
      assert.equal(made, 1, "the app is made once");
    } finally {
      await listening.close();
    }
  });

  it("an app that cannot be made: each request gets a 500 saying why", async () => {
    const listening = await listen(
      async () => {
        throw new Error("Cannot find package 'hono'");
      },
      { host: "127.0.0.1", port: 0 },
    );
    try {
      const r = await fetch(`${listening.url}/runs`);
      assert.equal(r.status, 500);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "server_unavailable");
      assert.match(body.error.message, /Cannot find package 'hono'/);
    } finally {
      await listening.close();
    }
  });
});
