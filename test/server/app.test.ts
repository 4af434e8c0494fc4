import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventTypes, foldRun } from "../../src/core/index.ts";
import { Workspace } from "../../src/workspace/index.ts";
import { createdData, createHarness, makeRepo, post, removeDir } from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: response bodies walked in assertions
type Json = Record<string, any>;

async function body(response: Response): Promise<Json> {
  return (await response.json()) as Json;
}

describe("HTTP API (in-process)", () => {
  it("answers /health, and 404 with a JSON message naming the API docs for anything unknown", async () => {
    const h = createHarness();
    const health = await h.request("/health");
    assert.equal(health.status, 200);
    assert.equal((await body(health)).ok, true);
    for (const path of ["/runs/x/nothing", "/index.html"]) {
      const r = await h.request(path);
      assert.equal(r.status, 404, path);
      const b = await body(r);
      assert.equal(b.error.code, "not_found");
      assert.match(b.error.message, /\/openapi\.json/);
    }
  });

  it("serves OpenAPI 3.1 generated from the zod schemas, with the event union as one component", async () => {
    const h = createHarness();
    const doc = await body(await h.request("/openapi.json"));
    assert.equal(doc.openapi, "3.1.0");
    for (const path of [
      "/health",
      "/runs",
      "/runs/{id}",
      "/runs/{id}/events",
      "/runs/{id}/stream",
      "/events/stream",
      "/runs/{id}/approvals/{approvalId}",
      "/runs/{id}/interventions",
      "/runs/{id}/pause",
      "/runs/{id}/resume",
      "/runs/{id}/cancel",
      "/runs/{id}/rewind",
      "/runs/{id}/fork",
      "/runs/{id}/diff",
      "/runs/{id}/apply",
    ])
      assert.ok(doc.paths[path], `missing ${path}`);
    const event = doc.components.schemas.Event;
    const variants = event.oneOf ?? event.anyOf;
    assert.equal(variants.length, eventTypes.length);
    const documented = variants.map((v: Json) => v.properties.type.const ?? v.properties.type.enum?.[0]);
    assert.deepEqual([...documented].sort(), [...eventTypes].sort());
    assert.deepEqual(doc.components.schemas.CreateRun.required.sort(), ["repo", "task"]);
  });

  it("starts a run through the launcher with the validated body; malformed bodies get 400 naming the field", async () => {
    const h = createHarness();
    const ok = await h.request("/runs", post({ task: "Fix it", repo: "/tmp/x", approval: "plan" }));
    assert.equal(ok.status, 201);
    assert.equal((await body(ok)).runId, "run_started1");
    assert.deepEqual(h.launcher.started, [{ task: "Fix it", repo: "/tmp/x", approval: "plan" }]);

    const cases: [unknown, RegExp][] = [
      [{ task: 1, repo: "/r" }, /body\.task/],
      [{ task: "t" }, /body\.repo/],
      [{ task: "t", repo: "/r", approval: "sometimes" }, /body\.approval/],
      [{ task: "t", repo: "/r", maxSteps: -1 }, /body\.maxSteps/],
      [{ task: "t", repo: "/r", colour: "blue" }, /colour/],
      [{ task: "  ", repo: "/r" }, /body\.task/],
      ["{not json", /JSON/],
    ];
    for (const [input, field] of cases) {
      const r = await h.request("/runs", post(input));
      assert.equal(r.status, 400, JSON.stringify(input));
      assert.match((await body(r)).error.message, field);
    }
    assert.equal(h.launcher.started.length, 1);
  });

  it("refuses to start runs when it is a CLI run's own server (no launcher): 409", async () => {
    const h = createHarness({ launcher: false });
    const r = await h.request("/runs", post({ task: "t", repo: "/r" }));
    assert.equal(r.status, 409);
    assert.equal((await body(r)).error.code, "runs_not_accepted");
  });

  it("lists runs with a status filter and says which are live here", async () => {
    const h = createHarness();
    await h.addRun("run_a", { live: true });
    await h.addRun("run_b");
    const all = await body(await h.request("/runs"));
    assert.deepEqual(all.runs.map((r: Json) => [r.runId, r.live]).sort(), [
      ["run_a", true],
      ["run_b", false],
    ]);
    const running = await body(await h.request("/runs?status=running"));
    assert.deepEqual(
      running.runs.map((r: Json) => r.runId),
      ["run_a"],
    );
    const bad = await h.request("/runs?status=sleepy");
    assert.equal(bad.status, 400);
    assert.match((await body(bad)).error.message, /query\.status/);
  });

  it("returns a run's state folded from its events, with the approvals waiting", async () => {
    const h = createHarness();
    const control = await h.addRun("run_a", { live: true });
    void h.ask(control);
    const detail = await body(await h.request("/runs/run_a"));
    assert.equal(detail.live, true);
    assert.equal(detail.run.task, "Fix the date helper");
    assert.deepEqual(detail.run, JSON.parse(JSON.stringify(foldRun("run_a", await h.store.read("run_a")))));
    assert.equal(detail.pendingApprovals.length, 1);
    assert.equal(detail.pendingApprovals[0].tool, "run_command");
    // A later event is folded in on the next request.
    await h.store.append("run_a", [{ type: "run.status", data: { status: "waiting" } }]);
    assert.equal((await body(await h.request("/runs/run_a"))).run.status, "waiting");

    const missing = await h.request("/runs/run_zzz");
    assert.equal(missing.status, 404);
    assert.equal((await body(missing)).error.code, "run_not_found");
    for (const bad of ["/runs/..%2F..%2Fetc%2Fpasswd", "/runs/a.b", `/runs/${"x".repeat(200)}`]) {
      assert.equal((await h.request(bad)).status, 400, bad);
    }
  });

  it("pages through events with from and limit", async () => {
    const h = createHarness();
    await h.addRun("run_a");
    await h.store.append(
      "run_a",
      Array.from({ length: 8 }, (_, i) => ({
        type: "run.status" as const,
        data: { status: "running" as const, reason: `r${i}` },
      })),
    );
    const page = await body(await h.request("/runs/run_a/events?from=3&limit=4"));
    assert.deepEqual(
      page.events.map((e: Json) => e.seq),
      [3, 4, 5, 6],
    );
    assert.equal(page.next, 7);
    assert.equal(page.more, true);
    const last = await body(await h.request("/runs/run_a/events?from=7&limit=4"));
    assert.deepEqual(
      last.events.map((e: Json) => e.seq),
      [7, 8, 9],
    );
    assert.equal(last.more, false);
    const beyond = await body(await h.request("/runs/run_a/events?from=100"));
    assert.deepEqual(beyond, { events: [], next: 100, more: false });
    assert.equal((await h.request("/runs/run_a/events?limit=0")).status, 400);
    assert.equal((await h.request("/runs/run_none/events")).status, 404);
  });

  describe("approvals", () => {
    it("takes the first answer and refuses a second with 409", async () => {
      const h = createHarness();
      const control = await h.addRun("run_a", { live: true });
      const answer = h.ask(control);
      const first = await h.request("/runs/run_a/approvals/appr_1", post({ decision: "approve" }));
      assert.equal(first.status, 200);
      assert.deepEqual(await body(first), { approvalId: "appr_1", decision: "approve", by: "api" });
      assert.deepEqual(await answer, {
        decision: "approve",
        by: "api",
        reason: undefined,
        editedArgs: undefined,
        rule: undefined,
      });
      const second = await h.request("/runs/run_a/approvals/appr_1", post({ decision: "deny" }));
      assert.equal(second.status, 409);
      const b = await body(second);
      assert.equal(b.error.code, "approval_answered");
      assert.match(b.error.message, /already answered \(approve by api\)/);
    });

    it("passes a denial's reason, an edit's arguments and an always-allow rule on to the engine", async () => {
      const h = createHarness();
      const control = await h.addRun("run_a", { live: true });
      const denied = h.ask(control);
      await h.request(
        "/runs/run_a/approvals/appr_1",
        post({ decision: "deny", reason: "use the clean script" }),
      );
      assert.equal((await denied).reason, "use the clean script");

      const edited = h.ask(control);
      await h.request(
        "/runs/run_a/approvals/appr_2",
        post({ decision: "edit", editedArgs: { command: "npm test -- --bail" }, by: "dashboard" }),
      );
      assert.deepEqual((await edited).editedArgs, { command: "npm test -- --bail" });

      const always = h.ask(control);
      const r = await h.request("/runs/run_a/approvals/appr_3", post({ decision: "approve", rule: true }));
      assert.equal((await body(r)).ruleLearned, 'run_command "npm test" → allow');
      assert.deepEqual((await always).rule, { tool: "run_command", match: "npm test", action: "allow" });
    });

    it("answers 400 for an edit without arguments or a rule on the plan, 404 for unknown ids, 409 when not live", async () => {
      const h = createHarness();
      const control = await h.addRun("run_a", { live: true });
      void h.ask(control, { tool: "plan", args: { facts: [], steps: [] }, risk: "write" });
      const noArgs = await h.request("/runs/run_a/approvals/appr_1", post({ decision: "edit" }));
      assert.equal(noArgs.status, 400);
      assert.match((await body(noArgs)).error.message, /editedArgs/);
      const planRule = await h.request(
        "/runs/run_a/approvals/appr_1",
        post({ decision: "approve", rule: true }),
      );
      assert.equal(planRule.status, 400);
      const unknown = await h.request("/runs/run_a/approvals/appr_9", post({ decision: "approve" }));
      assert.equal(unknown.status, 404);
      assert.equal((await body(unknown)).error.code, "approval_not_found");
      const noRun = await h.request("/runs/run_q/approvals/appr_1", post({ decision: "approve" }));
      assert.equal(noRun.status, 404);
      await h.addRun("run_idle");
      const notLive = await h.request("/runs/run_idle/approvals/appr_1", post({ decision: "approve" }));
      assert.equal(notLive.status, 409);
      assert.match((await body(notLive)).error.message, /not driven by any process/);
    });
  });

  it("logs interventions (queued and interrupting) as events by api", async () => {
    const h = createHarness();
    await h.addRun("run_a", { live: true });
    const r = await h.request("/runs/run_a/interventions", post({ message: "Use UTC", interrupt: true }));
    assert.equal(r.status, 202);
    assert.ok((await body(r)).interventionId);
    const received = (await h.store.read("run_a")).find((e) => e.type === "intervention.received");
    assert.deepEqual(received?.data && { ...received.data, interventionId: "x" }, {
      interventionId: "x",
      message: "Use UTC",
      interrupt: true,
      by: "api",
    });
    const empty = await h.request("/runs/run_a/interventions", post({ message: "" }));
    assert.equal(empty.status, 400);
    assert.match((await body(empty)).error.message, /body\.message/);
  });

  it("pauses, resumes and cancels a live run", async () => {
    const h = createHarness();
    const control = await h.addRun("run_a", { live: true });
    assert.equal((await h.request("/runs/run_a/pause", { method: "POST" })).status, 200);
    assert.equal(control.paused, true);
    assert.equal((await h.request("/runs/run_a/resume", { method: "POST" })).status, 200);
    assert.equal(control.paused, false);
    const cancel = await h.request("/runs/run_a/cancel", post({ reason: "wrong task" }));
    assert.equal(cancel.status, 202);
    assert.deepEqual(control.cancelled, { by: "api", reason: "wrong task" });
    assert.equal(control.signal.aborted, true);
    const types = (await h.store.read("run_a")).map((e) => e.type);
    assert.ok(types.includes("run.paused") && types.includes("run.resumed"));
  });

  it("continues a run nobody drives on resume (serve), and refuses ended or unknown runs", async () => {
    const h = createHarness();
    await h.addRun("run_idle");
    const r = await h.request("/runs/run_idle/resume", { method: "POST" });
    assert.equal(r.status, 202);
    assert.deepEqual(h.launcher.continued, ["run_idle"]);
    await h.store.append("run_idle", [
      { type: "run.finished", data: { status: "succeeded", summary: "done" } },
    ]);
    const ended = await h.request("/runs/run_idle/resume", { method: "POST" });
    assert.equal(ended.status, 409);
    assert.match((await body(ended)).error.message, /has succeeded/);
    assert.equal((await h.request("/runs/run_nope/resume", { method: "POST" })).status, 404);
    assert.equal((await h.request("/runs/run_nope/pause", { method: "POST" })).status, 404);
  });
});

describe("HTTP API: diff, apply, rewind, fork on a real workspace", () => {
  let repo: string;
  let dir: string;
  let h: ReturnType<typeof createHarness>;
  let checkpointSeq: number;

  before(async () => {
    repo = makeRepo();
    dir = join(tmpdir(), `entourage-api-ws-${process.pid}-${Date.now()}`);
    const workspace = await Workspace.create({ repo, dir: join(dir, "workspace") });
    await workspace.writeText("a.txt", "two\n");
    const snap = await workspace.snapshot("edit a.txt");
    assert.ok(snap);
    h = createHarness();
    const events = await h.store.append("run_ws", [
      { type: "run.created", data: createdData({ repo, workspace: workspace.dir }) },
      {
        type: "checkpoint.created",
        data: { ref: snap.ref, label: snap.label, filesChanged: snap.filesChanged },
      },
      { type: "run.finished", data: { status: "succeeded", summary: "edited" } },
    ]);
    checkpointSeq = events[1]!.seq;
  });

  after(() => {
    removeDir(repo);
    removeDir(dir);
  });

  it("returns the diff", async () => {
    const d = await body(await h.request("/runs/run_ws/diff"));
    assert.match(d.diff, /^\+two$/m);
    assert.deepEqual(d.files, [{ path: "a.txt", status: "modified" }]);
    assert.equal(d.insertions, 1);
  });

  it("forks at the checkpoint into a new run the launcher continues", async () => {
    const r = await h.request("/runs/run_ws/fork", post({ at: checkpointSeq, guidance: "keep it short" }));
    assert.equal(r.status, 201);
    const fork = await body(r);
    assert.equal(fork.started, true);
    assert.deepEqual(h.launcher.continued, [fork.runId]);
    const events = await h.store.read(fork.runId);
    const created = events[0];
    assert.equal(created?.type === "run.created" && created.data.forkedFrom?.seq, checkpointSeq);
    assert.ok(events.some((e) => e.type === "intervention.received" && e.data.by === "api"));
    assert.equal(
      readFileSync(join(created?.type === "run.created" ? created.data.workspace : "", "a.txt"), "utf8"),
      "two\n",
    );
    removeDir(join(tmpdir(), "entourage-test-forks", fork.runId));
    assert.equal((await h.request("/runs/run_ws/fork", post({ at: 999 }))).status, 400);
  });

  it("applies the change once; a second apply is a 409", async () => {
    const r = await h.request("/runs/run_ws/apply", { method: "POST" });
    assert.equal(r.status, 200);
    assert.deepEqual((await body(r)).files, ["a.txt"]);
    assert.equal(readFileSync(join(repo, "a.txt"), "utf8"), "two\n");
    const again = await h.request("/runs/run_ws/apply", { method: "POST" });
    assert.equal(again.status, 409);
    assert.equal((await body(again)).error.code, "already_applied");
  });

  it("rewinds the workspace to an earlier event, and refuses while the run is live here", async () => {
    const r = await h.request("/runs/run_ws/rewind", post({ to: 0 }));
    assert.equal(r.status, 200);
    assert.equal(readFileSync(join(dir, "workspace", "a.txt"), "utf8"), "one\n");
    assert.equal((await h.request("/runs/run_ws/rewind", post({ to: 1000 }))).status, 400);
    assert.equal((await h.request("/runs/run_ws/rewind", post({ to: "0" }))).status, 400);
    await h.addRun("run_live", { live: true });
    const live = await h.request("/runs/run_live/rewind", post({ to: 0 }));
    assert.equal(live.status, 409);
  });
});
