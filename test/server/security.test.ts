import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { listen, loadOrCreateToken, readClientToken } from "../../src/server/index.ts";
import { createHarness, post, removeDir, TOKEN } from "./harness.ts";

const auth = { authorization: `Bearer ${TOKEN}` };

/** A raw HTTP request (fetch forbids setting Host and Origin as a browser would). */
function raw(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, path, method: options.method ?? "GET", headers: options.headers },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("API security", () => {
  it("beyond loopback: no token → 401 on every route but /health; the right token → through", async () => {
    const h = createHarness({ host: "0.0.0.0" });
    await h.addRun("run_a", { live: true });
    // Bound on all interfaces; the test's traffic stays on 127.0.0.1.
    const listening = await listen(h.app, { host: "0.0.0.0", port: 0 });
    try {
      const base = `http://127.0.0.1:${listening.port}`;
      assert.equal((await raw(base, "/health")).status, 200);
      for (const [method, path] of [
        ["GET", "/runs"],
        ["GET", "/runs/run_a"],
        ["GET", "/runs/run_a/stream"],
        ["GET", "/openapi.json"],
        ["POST", "/runs/run_a/pause"],
        ["GET", "/nothing-here"],
      ] as const) {
        const r = await raw(base, path, { method });
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal(JSON.parse(r.body).error.code, "unauthorized");
        assert.match(String(r.headers["www-authenticate"]), /Bearer/);
        const wrong = await raw(base, path, {
          method,
          headers: { authorization: "Bearer not-the-token-at-all!!" },
        });
        assert.equal(wrong.status, 401);
      }
      assert.equal((await raw(base, "/runs", { headers: auth })).status, 200);
      assert.equal((await raw(base, "/runs/run_a/pause", { method: "POST", headers: auth })).status, 200);
    } finally {
      await listening.close();
    }
  });

  it("on loopback, reads and writes need no token from curl-like clients", async () => {
    const h = createHarness();
    await h.addRun("run_a", { live: true });
    assert.equal((await h.request("/runs")).status, 200);
    assert.equal((await h.request("/runs/run_a/pause", { method: "POST" })).status, 200);
  });

  it("refuses cross-origin browser requests (403), and same-origin state changes without the token (401)", async () => {
    const h = createHarness();
    await h.addRun("run_a", { live: true });
    const evil = { origin: "http://evil.example" };
    assert.equal((await h.request("/runs", { headers: evil })).status, 403);
    assert.equal((await h.request("/runs/run_a/cancel", post({}, evil))).status, 403);
    assert.equal((await h.request("/runs/run_a/cancel", post({}, { ...evil, ...auth }))).status, 403);
    assert.equal((await h.request("/runs", { headers: { origin: "null" } })).status, 403);
    assert.equal((await h.request("/runs", { headers: { "sec-fetch-site": "cross-site" } })).status, 403);
    // Its own origin (app.request addresses http://localhost): reads are fine, writes need the token.
    const own = { origin: "http://localhost" };
    assert.equal((await h.request("/runs", { headers: own })).status, 200);
    const write = await h.request("/runs/run_a/pause", post({}, own));
    assert.equal(write.status, 401);
    assert.equal((await h.request("/runs/run_a/pause", post({}, { ...own, ...auth }))).status, 200);
    // A preflight from another origin gets no CORS grant.
    const preflight = await h.request("/runs", {
      method: "OPTIONS",
      headers: { ...evil, "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    const normal = await h.request("/runs");
    assert.equal(normal.headers.get("access-control-allow-origin"), null);
  });

  it("refuses a DNS-rebinding request (Host is not a loopback name) on a loopback server", async () => {
    const h = createHarness();
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    try {
      const rebound = await raw(listening.url, "/runs", {
        headers: { host: `attacker.example:${listening.port}` },
      });
      assert.equal(rebound.status, 403);
      assert.equal(JSON.parse(rebound.body).error.code, "host_not_allowed");
      const sameNameOrigin = await raw(listening.url, "/runs/run_a/pause", {
        method: "POST",
        headers: {
          host: `attacker.example:${listening.port}`,
          origin: `http://attacker.example:${listening.port}`,
        },
      });
      assert.equal(sameNameOrigin.status, 403);
      assert.equal(
        (await raw(listening.url, "/runs", { headers: { host: `localhost:${listening.port}` } })).status,
        200,
      );
    } finally {
      await listening.close();
    }
  });

  it("generates the token once into ENTOURAGE_HOME/token with mode 0600; ENTOURAGE_TOKEN wins", () => {
    const home = mkdtempSync(join(tmpdir(), "entourage-token-"));
    try {
      const first = loadOrCreateToken(home, {});
      assert.ok(first.length >= 40);
      assert.equal(statSync(join(home, "token")).mode & 0o777, 0o600);
      assert.equal(loadOrCreateToken(home, {}), first);
      assert.equal(readClientToken(home, {}), first);
      assert.equal(
        loadOrCreateToken(home, { ENTOURAGE_TOKEN: "from-the-environment-123" }),
        "from-the-environment-123",
      );
      assert.throws(() => loadOrCreateToken(home, { ENTOURAGE_TOKEN: "short" }), /at least 16/);
    } finally {
      removeDir(home);
    }
  });
});
