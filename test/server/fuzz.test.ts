import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { describe, it } from "node:test";
import { listen } from "../../src/server/index.ts";
import { createHarness, TOKEN } from "./harness.ts";

/** A small seeded PRNG so a failure can be replayed. */
function prng(seed: number) {
  let x = seed >>> 0;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

type Rand = ReturnType<typeof prng>;

const WEIRD_IDS = [
  "run_live",
  "run_idle",
  "run_done",
  "run_nope",
  "appr_1",
  "..",
  "../..",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e",
  "%00",
  "a%0d%0aSet-Cookie:x",
  "run_live%2F..",
  "run live",
  "ρun_ünïcode",
  "x".repeat(5000),
  "",
  "*",
  "%",
  "'; DROP TABLE events;--",
  "$(rm -rf /)",
  "run_live/../run_idle",
];

const PATHS = [
  "/runs",
  "/runs/{id}",
  "/runs/{id}/events",
  "/runs/{id}/stream",
  "/runs/{id}/approvals/{id2}",
  "/runs/{id}/interventions",
  "/runs/{id}/pause",
  "/runs/{id}/resume",
  "/runs/{id}/cancel",
  "/runs/{id}/rewind",
  "/runs/{id}/fork",
  "/runs/{id}/diff",
  "/runs/{id}/apply",
  "/events/stream",
  "/openapi.json",
  "/health",
  "/{id}",
  "//runs",
  "/runs/",
  "/runs/{id}/approvals/",
];

const QUERIES = [
  "",
  "?from=-1",
  "?from=abc",
  "?limit=0",
  "?limit=99999999",
  "?status=bogus",
  "?status=running",
  "?from=1e400",
  "?from=3&limit=2",
  "?%ff=%zz",
  "?from=",
  "?limit=1.5",
];

/** Half the time a run or approval that exists, so requests get past the router into the handlers. */
function someId(r: Rand): string {
  return r.next() < 0.5
    ? r.pick(["run_live", "run_live", "run_idle", "run_done", "appr_1"])
    : r.pick(WEIRD_IDS);
}

function randomJson(r: Rand, depth = 0): unknown {
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return r.next() < 0.5;
    case 2:
      return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, -0]);
    case 3:
      return r.pick(["", "approve", "deny", "edit", "x".repeat(r.int(3000)), "\u0000", "🙂", "../"]);
    case 4:
      return r.pick(["task", "repo", "decision", "message", "to", "at"]);
    case 5:
      return Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1));
    default: {
      const keys = [
        "task",
        "repo",
        "decision",
        "reason",
        "editedArgs",
        "rule",
        "message",
        "interrupt",
        "targetAgentId",
        "to",
        "at",
        "guidance",
        "by",
        "mode",
        "approval",
        "maxSteps",
        "__proto__",
        "constructor",
      ];
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(keys)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function randomBody(r: Rand): { body?: string | Uint8Array; contentType?: string } {
  switch (r.int(10)) {
    case 0:
      return {};
    case 1:
      return { body: "{not json", contentType: "application/json" };
    case 2:
      return { body: "x".repeat(1024 * 1024 + 10 + r.int(500_000)), contentType: "application/json" };
    case 3:
      return {
        body: JSON.stringify(randomJson(r)),
        contentType: r.pick([
          "text/plain",
          "application/xml",
          "multipart/form-data",
          "application/x-www-form-urlencoded",
        ]),
      };
    case 4:
      return {
        body: new Uint8Array(Array.from({ length: r.int(200) }, () => r.int(256))),
        contentType: "application/json",
      };
    case 5:
      return {
        body: JSON.stringify({
          decision: r.pick(["approve", "deny", "edit", "APPROVE", 1]),
          reason: randomJson(r),
          rule: randomJson(r),
          editedArgs: randomJson(r),
        }),
        contentType: "application/json",
      };
    case 6:
      return {
        body: JSON.stringify({
          message: randomJson(r),
          interrupt: randomJson(r),
          targetAgentId: r.pick(WEIRD_IDS),
        }),
        contentType: "application/json",
      };
    case 7:
      return {
        body: JSON.stringify({
          task: randomJson(r),
          repo: r.pick(["/nonexistent", "../../", randomJson(r)]),
          mode: randomJson(r),
        }),
        contentType: "application/json",
      };
    case 8:
      return {
        body: JSON.stringify({ to: randomJson(r), at: randomJson(r), guidance: randomJson(r) }),
        contentType: "application/json",
      };
    default:
      return { body: JSON.stringify(randomJson(r)), contentType: "application/json" };
  }
}

/** Header values a client can send: visible ASCII only. */
function printable(text: string): string {
  return text.replace(/[^!-~]/g, "") || "7";
}

function randomRequest(r: Rand): { path: string; init: RequestInit } {
  const path =
    r
      .pick(PATHS)
      .replace("{id}", encodeURIComponent(someId(r)))
      .replace("{id2}", someId(r)) + r.pick(QUERIES);
  const method = r.pick(["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
  const headers: Record<string, string> = {};
  if (r.next() < 0.2) headers.accept = "text/event-stream";
  if (r.next() < 0.15)
    headers["last-event-id"] = printable(JSON.stringify(randomJson(r)) ?? "").slice(0, 100) || "7";
  if (r.next() < 0.1) headers.origin = r.pick(["http://evil.example", "null", "http://localhost", "file://"]);
  if (r.next() < 0.1)
    headers.authorization = r.pick([`Bearer ${TOKEN}`, "Bearer nope", "Basic Zm9vOmJhcg==", "Bearer "]);
  const init: RequestInit = { method, headers };
  if (method !== "GET" && method !== "HEAD") {
    const b = randomBody(r);
    if (b.contentType) headers["content-type"] = b.contentType;
    if (b.body !== undefined) init.body = b.body as BodyInit;
  }
  return { path, init };
}

function decodeURIComponentSafe(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path.replace(/%/g, "%25");
  }
}

async function seeded() {
  const h = createHarness();
  // A waiting approval (appr_1) for the approval routes to find.
  void h.ask(await h.addRun("run_live", { live: true })).catch(() => {});
  await h.addRun("run_idle");
  await h.addRun("run_done");
  await h.store.append("run_done", [{ type: "run.finished", data: { status: "succeeded", summary: "ok" } }]);
  return h;
}

describe("fuzzing the API", () => {
  it("10,000 malformed and random requests in-process: only 4xx (or a success), never a 5xx or a crash", async () => {
    const h = await seeded();
    const r = prng(20260601);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const { path, init } = randomRequest(r);
      // An unparseable URL never reaches a server: fetch refuses it client-side.
      let response: Response;
      try {
        response = await h.app.request(path, init);
      } catch (error) {
        assert.fail(`request ${i} ${init.method} ${path} threw: ${error}`);
      }
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500)
        assert.fail(`request ${i}: ${init.method} ${path} → ${response.status} ${await response.text()}`);
      // Streams are not read to the end: cancel them.
      if (response.body && !response.body.locked) await response.body.cancel();
      // A live run that was cancelled by a random request comes back, so steering stays reachable.
      if (!h.runs.get("run_live") || h.runs.get("run_live")!.signal.aborted)
        await h.addRun("run_live", { live: true });
    }
    assert.ok(
      [...statuses.keys()].some((s) => s >= 400),
      "the fuzzer produced errors at all",
    );
    // The fuzzer reaches the validators, the steering routes and the limits, not only the router.
    for (const status of [200, 400, 401, 403, 404, 409, 413, 415])
      assert.ok(statuses.has(status), `no ${status} seen`);
    assert.equal((await h.request("/health")).status, 200);
  });

  it("a few hundred of them over a real socket, huge bodies included", async () => {
    const h = await seeded();
    const listening = await listen(h.app, { host: "127.0.0.1", port: 0 });
    const r = prng(77);
    try {
      for (let i = 0; i < 300; i++) {
        const { path, init } = randomRequest(r);
        const headers = init.headers as Record<string, string>;
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            {
              host: "127.0.0.1",
              port: listening.port,
              path: encodeURI(decodeURIComponentSafe(path)),
              method: init.method,
              headers,
            },
            (res) => {
              resolve(res.statusCode ?? 0);
              res.destroy();
            },
          );
          req.on("error", (error: NodeJS.ErrnoException) => {
            // The server may close a connection whose body it refused (413) before it is all sent.
            if (error.code === "EPIPE" || error.code === "ECONNRESET") resolve(413);
            else reject(error);
          });
          req.end(init.body as string | Uint8Array | undefined);
        });
        assert.ok(status > 0 && status < 500, `socket request ${i}: ${init.method} ${path} → ${status}`);
      }
      const health = await fetch(`${listening.url}/health`);
      assert.equal(health.status, 200);
    } finally {
      await listening.close();
    }
  });
});
