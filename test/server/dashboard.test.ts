import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mintSession, verifySession } from "../../src/server/session.ts";
import { createHarness, TOKEN } from "./harness.ts";

const BASE = "http://127.0.0.1:4317";
const ORIGIN = { origin: BASE };

/** Signs in through the printed link; returns the Cookie header to send back. */
async function signIn(h: ReturnType<typeof createHarness>): Promise<{ cookie: string; setCookie: string }> {
  const link = h.app.loginUrl(BASE);
  assert.match(link, /^http:\/\/127\.0\.0\.1:4317\/\?login=[A-Za-z0-9_-]{43}$/);
  const r = await h.request(link, { headers: { "sec-fetch-site": "none", "sec-fetch-dest": "document" } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/");
  const setCookie = r.headers.get("set-cookie") ?? "";
  return { cookie: setCookie.split(";")[0]!, setCookie };
}

describe("dashboard: pages and sign-in", () => {
  it("serves the app at / with a CSP that keeps everything on this server", async () => {
    const h = createHarness();
    const r = await h.request(`${BASE}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /text\/html/);
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'none'.*connect-src 'self'/);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.match(await r.text(), /<div id="root">|not built/);
  });

  it("the printed link works once and sets an httpOnly, SameSite=Strict cookie that is not the token", async () => {
    const h = createHarness();
    const link = h.app.loginUrl(BASE);
    const first = await h.request(link);
    assert.equal(first.status, 303);
    const setCookie = first.headers.get("set-cookie") ?? "";
    assert.match(
      setCookie,
      /^entourage_session_4317=v1\.\d+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    assert.ok(!setCookie.includes(TOKEN), "the cookie carries a MAC, never the token");
    const again = await h.request(link);
    assert.equal(again.status, 303);
    assert.equal(again.headers.get("location"), "/?signin=expired");
    assert.equal(again.headers.get("set-cookie"), null);
    // The same browser, already signed in, just goes on.
    const cookie = setCookie.split(";")[0]!;
    const withCookie = await h.request(link, { headers: { cookie } });
    assert.equal(withCookie.headers.get("location"), "/");
  });

  it("the cookie stands in for the token on state-changing requests; the Origin is still checked", async () => {
    const h = createHarness();
    await h.addRun("run_a", { live: true });
    const post = (headers: Record<string, string>) =>
      h.request(`${BASE}/runs/run_a/pause`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: "{}",
      });
    assert.equal((await post(ORIGIN)).status, 401);
    const { cookie } = await signIn(h);
    assert.equal((await post({ ...ORIGIN, cookie })).status, 200);
    assert.equal((await post({ origin: "http://evil.example", cookie })).status, 403);
    assert.equal((await post({ ...ORIGIN, cookie, "sec-fetch-site": "cross-site" })).status, 403);
    // A cookie minted with another token, or for another port, or altered, is no session.
    const foreign = `entourage_session_4317=${mintSession("another-token-0123456789", "4317")}`;
    assert.equal((await post({ ...ORIGIN, cookie: foreign })).status, 401);
    const otherPort = `entourage_session_4317=${mintSession(TOKEN, "4318")}`;
    assert.equal((await post({ ...ORIGIN, cookie: otherPort })).status, 401);
    assert.equal((await post({ ...ORIGIN, cookie: `${cookie.slice(0, -2)}xx` })).status, 401);
  });

  it("sessions expire; verifying needs no server state, so a restarted server keeps them", () => {
    const value = mintSession(TOKEN, "4317", 1000, 60_000);
    assert.equal(verifySession(value, TOKEN, "4317", 2000), true);
    assert.equal(verifySession(value, TOKEN, "4317", 61_001), false);
    assert.equal(verifySession("v1.9999999999999.x.y", TOKEN, "4317", 0), false);
  });

  it("a page load of /runs/<id> gets the app; fetch, curl and EventSource get the API", async () => {
    const h = createHarness();
    await h.addRun("run_a");
    const page = await h.request(`${BASE}/runs/run_a`, {
      headers: { "sec-fetch-dest": "document", accept: "text/html" },
    });
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    const json = await h.request(`${BASE}/runs/run_a`, {
      headers: { accept: "application/json", "sec-fetch-dest": "empty" },
    });
    assert.equal(((await json.json()) as { run: { runId: string } }).run.runId, "run_a");
    const curl = await h.request(`${BASE}/runs/run_a`, { headers: { accept: "*/*" } });
    assert.match(curl.headers.get("content-type") ?? "", /application\/json/);
  });

  it("beyond loopback: the app's files are public, run data needs the token or a session", async () => {
    const h = createHarness({ host: "0.0.0.0" });
    await h.addRun("run_a");
    const url = "http://10.1.2.3:4317";
    assert.equal((await h.request(`${url}/`)).status, 200);
    assert.equal((await h.request(`${url}/runs`)).status, 401);
    assert.equal(
      (await h.request(`${url}/runs/run_a`, { headers: { "sec-fetch-dest": "document" } })).status,
      200,
    );
    const session = (await (await h.request(`${url}/auth/session`)).json()) as Record<string, boolean>;
    assert.deepEqual(session, { signedIn: false, readsNeedSession: true });
    const bad = await h.request(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url },
      body: JSON.stringify({ token: "wrong" }),
    });
    assert.equal(bad.status, 401);
    const good = await h.request(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(good.status, 204);
    const cookie = (good.headers.get("set-cookie") ?? "").split(";")[0]!;
    assert.equal((await h.request(`${url}/runs`, { headers: { cookie } })).status, 200);
    const out = await h.request(`${url}/auth/logout`, { method: "POST", headers: { origin: url, cookie } });
    assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
  });

  it("asset names cannot leave the assets folder", async () => {
    const h = createHarness();
    for (const path of [
      "/assets/..%2F..%2Fpackage.json",
      "/assets/../index.html",
      "/assets/.env",
      "/assets/nope.js",
    ]) {
      const r = await h.request(`${BASE}${path}`);
      assert.equal(r.status, 404, path);
    }
  });
});
