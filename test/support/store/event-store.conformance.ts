import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { afterEach, describe, it } from "node:test";
import {
  type Clock,
  EntourageError,
  type EntourageEvent,
  EVENT_FORMAT_VERSION,
  type IdGenerator,
  type NewEvent,
  sequentialIds,
} from "../../../src/core/index.ts";
import type { EventStore } from "../../../src/store/event-store.ts";
import type { ListenerErrorHandler } from "../../../src/store/listeners.ts";

/** What each backend's initializer receives: deterministic time and ids, and where listener errors go. */
export interface ConformanceDeps {
  clock: Clock;
  ids: IdGenerator;
  onError: ListenerErrorHandler;
}

export type EventStoreFactory = (deps: ConformanceDeps) => EventStore | Promise<EventStore>;

/** Sample events for tests of the store and its readers. */
export const sampleEvents = {
  created(task = "Refactor auth to JWT", repo = "/repo"): NewEvent {
    return {
      type: "run.created",
      data: {
        task,
        repo,
        workspace: "/tmp/ws",
        mode: "pipeline",
        model: { provider: "scripted", model: "demo", scripted: true },
        sandbox: { backend: "subprocess", isolated: false, network: "off" },
        budget: { maxSteps: 20 },
        approval: "ask-risky",
      },
    };
  },
  status(
    status: "queued" | "running" | "waiting" | "paused" | "succeeded" | "failed" | "cancelled",
  ): NewEvent {
    return { type: "run.status", data: { status } };
  },
  finished(status: "succeeded" | "failed" | "cancelled"): NewEvent {
    return { type: "run.finished", data: { status, summary: `run ${status}` } };
  },
  delta(text: string, agentId = "agt_1"): NewEvent {
    return { type: "agent.text.delta", agentId, data: { step: 1, text } };
  },
  response(inputTokens: number, outputTokens: number, costUsd?: number): NewEvent {
    return {
      type: "llm.response",
      agentId: "agt_1",
      data: {
        step: 1,
        usage: { inputTokens, outputTokens },
        latencyMs: 10,
        finishReason: "stop",
        ...(costUsd === undefined ? {} : { costUsd }),
      },
    };
  },
};

const { created, status, finished, delta, response } = sampleEvents;

/** Polls until `predicate` holds; events from other processes arrive on a timer. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const texts = (events: readonly EntourageEvent[]) =>
  events.map((e) => (e.type === "agent.text.delta" ? e.data.text : e.type));

/**
 * The behaviour every EventStore backend must have. Call from a backend's test file with an initializer
 * that returns a fresh, empty store per call; `skip` (the reason) when the backend cannot run here.
 */
export function runEventStoreConformance(
  name: string,
  factory: EventStoreFactory,
  options: { skip?: string } = {},
): void {
  describe(`EventStore conformance: ${name}`, { skip: options.skip }, () => {
    let stores: EventStore[] = [];
    let listenerErrors: unknown[] = [];
    let now = 1_700_000_000_000;

    async function open(): Promise<EventStore> {
      const store = await factory({
        clock: () => {
          now += 1000;
          return now;
        },
        ids: sequentialIds(),
        onError: (error) => listenerErrors.push(error),
      });
      stores.push(store);
      return store;
    }

    afterEach(async () => {
      for (const store of stores) await store.close();
      stores = [];
      listenerErrors = [];
    });

    it("assigns id, seq, time and format version, gap-free per run from 0", async () => {
      const store = await open();
      const first = await store.append("run_a", [created(), status("running")]);
      const second = await store.append("run_a", [delta("hello")]);
      const other = await store.append("run_b", [created("other")]);

      assert.deepEqual(
        [...first, ...second].map((e) => e.seq),
        [0, 1, 2],
      );
      assert.deepEqual(
        other.map((e) => e.seq),
        [0],
      );
      const ids = [...first, ...second, ...other].map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, "event ids are unique");
      for (const event of [...first, ...second, ...other]) {
        assert.equal(event.v, EVENT_FORMAT_VERSION);
        assert.equal(typeof event.time, "number");
      }
      assert.equal(first[0]?.runId, "run_a");
      assert.equal(second[0]?.agentId, "agt_1");
      assert.ok((second[0]?.time ?? 0) > (first[0]?.time ?? 0), "time comes from the injected clock");
      // What append returned is exactly what a reader gets back.
      assert.deepEqual(await store.read("run_a"), [...first, ...second]);
      assert.deepEqual(await store.read("run_b"), other);
    });

    it("keeps parentId and returns a copy independent of the caller's objects", async () => {
      const store = await open();
      const args = { cmd: "npm test" };
      const [requested] = await store.append("run_a", [
        {
          type: "tool.call.requested",
          agentId: "agt_1",
          data: { callId: "c1", name: "run_command", args, risk: "execute", step: 1 },
        },
      ]);
      await store.append("run_a", [
        {
          type: "tool.call.started",
          parentId: requested?.id,
          data: { callId: "c1", name: "run_command" },
        },
      ]);
      args.cmd = "rm -rf /";
      const [readBack, started] = await store.read("run_a");
      assert.ok(readBack?.type === "tool.call.requested");
      assert.deepEqual(readBack.data.args, { cmd: "npm test" });
      assert.equal(started?.parentId, requested?.id);
    });

    it("rejects a batch with an invalid event as a whole, naming the type and the field", async () => {
      const store = await open();
      await store.append("run_a", [created()]);
      const seen: EntourageEvent[] = [];
      store.subscribe("*", (e) => seen.push(e));
      const bad = {
        type: "llm.response",
        data: { step: 1, usage: { inputTokens: "many" } },
      } as unknown as NewEvent;

      await assert.rejects(store.append("run_a", [delta("ok"), bad, delta("after")]), (error: unknown) => {
        assert.ok(EntourageError.isInstance(error));
        assert.equal(error.code, "invalid_event");
        assert.match(error.message, /llm\.response/);
        assert.match(error.message, /usage\.inputTokens/);
        return true;
      });
      await assert.rejects(
        store.append("run_a", [{ type: "no.such.type", data: {} } as unknown as NewEvent]),
        (error: unknown) => EntourageError.isInstance(error) && error.code === "invalid_event",
      );

      assert.equal(await store.nextSeq("run_a"), 1);
      assert.equal((await store.read("run_a")).length, 1);
      assert.deepEqual(seen, []);
      const [run] = await store.listRuns();
      assert.equal(run?.events, 1);
      // The run continues gap-free after a rejected batch.
      const [next] = await store.append("run_a", [delta("next")]);
      assert.equal(next?.seq, 1);
    });

    it("rejects run ids that cannot name a run", async () => {
      const store = await open();
      for (const runId of ["", "*"]) {
        await assert.rejects(store.append(runId, [created()]), (error: unknown) => {
          return EntourageError.isInstance(error) && error.code === "invalid_run_id";
        });
      }
    });

    it("reads from a seq with a limit", async () => {
      const store = await open();
      await store.append(
        "run_a",
        Array.from({ length: 10 }, (_, i) => delta(`t${i}`)),
      );
      assert.deepEqual(texts(await store.read("run_a", { fromSeq: 3, limit: 4 })), ["t3", "t4", "t5", "t6"]);
      assert.deepEqual(texts(await store.read("run_a", { fromSeq: 8 })), ["t8", "t9"]);
      assert.deepEqual(await store.read("run_a", { fromSeq: 10 }), []);
      assert.deepEqual(await store.read("run_a", { limit: 0 }), []);
      assert.deepEqual(await store.read("run_unknown"), []);
      assert.equal((await store.read("run_a", { limit: 100 })).length, 10);
      await assert.rejects(store.read("run_a", { fromSeq: -1 }));
    });

    it("delivers live events of one run in order, from the subscribe call until unsubscribe", async () => {
      const store = await open();
      await store.append("run_a", [delta("before")]);
      const seen: EntourageEvent[] = [];
      const unsubscribe = store.subscribe("run_a", (e) => seen.push(e));
      await store.append("run_a", [delta("one"), delta("two")]);
      await store.append("run_b", [delta("other run")]);
      const appended = await store.append("run_a", [delta("three")]);
      // Delivered by the time append resolves: a listener sees an event as soon as it is durable.
      assert.deepEqual(texts(seen), ["one", "two", "three"]);
      assert.deepEqual(
        seen.map((e) => e.seq),
        [1, 2, 3],
      );
      assert.deepEqual(seen[2], appended[0]);
      unsubscribe();
      unsubscribe();
      await store.append("run_a", [delta("after")]);
      assert.deepEqual(texts(seen), ["one", "two", "three"]);
    });

    it("delivers every run to a '*' subscriber in append order", async () => {
      const store = await open();
      const seen: EntourageEvent[] = [];
      const unsubscribe = store.subscribe("*", (e) => seen.push(e));
      await store.append("run_a", [delta("a0")]);
      await store.append("run_b", [delta("b0"), delta("b1")]);
      await store.append("run_a", [delta("a1")]);
      assert.deepEqual(
        seen.map((e) => `${e.runId}:${e.seq}`),
        ["run_a:0", "run_b:0", "run_b:1", "run_a:1"],
      );
      unsubscribe();
      await store.append("run_a", [delta("a2")]);
      assert.equal(seen.length, 4);
    });

    it("keeps order for every listener when a listener appends while being called", async () => {
      const store = await open();
      const seen: string[] = [];
      store.subscribe("run_a", (e) => {
        if (e.type === "agent.text.delta" && e.data.text === "ping")
          void store.append("run_a", [delta("pong")]);
      });
      store.subscribe("run_a", (e) => seen.push(`${e.seq}:${texts([e])[0]}`));
      await store.append("run_a", [delta("ping"), delta("ping2")]);
      await waitFor(() => seen.length === 3, "the appended pong");
      assert.deepEqual(seen, ["0:ping", "1:ping2", "2:pong"]);
    });

    it("isolates a throwing listener from the appender and the other listeners", async () => {
      const store = await open();
      const seen: number[] = [];
      store.subscribe("run_a", () => {
        throw new Error("listener bug");
      });
      store.subscribe("run_a", (e) => seen.push(e.seq));
      const appended = await store.append("run_a", [delta("x"), delta("y")]);
      assert.equal(appended.length, 2);
      assert.deepEqual(seen, [0, 1]);
      assert.equal(listenerErrors.length, 2);
    });

    it("lists runs newest first, by status, with token and cost totals", async () => {
      const store = await open();
      await store.append("run_1", [created("first", "/r1"), status("running"), response(100, 10, 0.5)]);
      await store.append("run_1", [response(50, 5, 0.25), finished("succeeded")]);
      await store.append("run_2", [created("second", "/r2"), status("running")]);
      await store.append("run_2", [response(7, 3), response(1, 1, 1)]);
      await store.append("run_3", [created("third", "/r3")]);

      const all = await store.listRuns();
      assert.deepEqual(
        all.map((r) => r.runId),
        ["run_3", "run_2", "run_1"],
      );
      const [third, second, first] = all;
      assert.deepEqual(
        { ...first, createdAt: 0, updatedAt: 0 },
        {
          runId: "run_1",
          task: "first",
          repo: "/r1",
          status: "succeeded",
          createdAt: 0,
          updatedAt: 0,
          events: 5,
          inputTokens: 150,
          outputTokens: 15,
          costUsd: 0.75,
          costKnown: true,
        },
      );
      assert.ok((first?.updatedAt ?? 0) > (first?.createdAt ?? 0));
      assert.equal(second?.status, "running");
      assert.equal(second?.inputTokens, 8);
      assert.equal(second?.outputTokens, 4);
      assert.equal(second?.costKnown, false, "one response without a price makes the total unknown");
      assert.equal(third?.status, "queued");
      assert.equal(third?.costKnown, true);
      assert.equal(third?.costUsd, 0);

      assert.deepEqual(
        (await store.listRuns({ status: "running" })).map((r) => r.runId),
        ["run_2"],
      );
      assert.deepEqual(
        (await store.listRuns({ limit: 2 })).map((r) => r.runId),
        ["run_3", "run_2"],
      );
      assert.deepEqual(await store.listRuns({ status: "cancelled" }), []);
      assert.deepEqual(
        (await store.listRuns({ status: ["queued", "succeeded", "cancelled"] })).map((r) => r.runId),
        ["run_3", "run_1"],
        "any of several statuses, newest first",
      );
      assert.deepEqual(
        (await store.listRuns({ status: ["queued", "succeeded"], limit: 1 })).map((r) => r.runId),
        ["run_3"],
      );
      assert.deepEqual(await store.listRuns({ status: [] }), []);
    });

    it("reports the next seq of a run", async () => {
      const store = await open();
      assert.equal(await store.nextSeq("run_a"), 0);
      await store.append("run_a", [created(), delta("x"), delta("y")]);
      assert.equal(await store.nextSeq("run_a"), 3);
      assert.equal(await store.nextSeq("run_b"), 0);
      assert.deepEqual(await store.append("run_a", []), []);
      assert.equal(await store.nextSeq("run_a"), 3);
    });

    describe("leases: one driver per run", () => {
      const me = { pid: process.pid, host: hostname(), label: "test" };
      const elsewhere = { pid: 1, host: "another-host.invalid", label: "entourage serve" };
      const ttl = 30_000;

      it("gives a free run's lease to one holder and tells the next who holds it", async () => {
        const store = await open();
        const first = await store.acquireLease("run_a", me, ttl);
        assert.ok(first.ok);
        assert.equal(first.tookOverFrom, undefined);
        const second = await store.acquireLease("run_a", elsewhere, ttl);
        assert.equal(second.ok, false);
        assert.ok(
          !second.ok && second.heldBy.holder.label === "test" && second.heldBy.holder.pid === process.pid,
        );
        assert.deepEqual(await store.readLease("run_a"), first.lease);
        assert.ok((await store.acquireLease("run_b", elsewhere, ttl)).ok, "leases are per run");
      });

      it("takes over a lease whose holder stopped heartbeating, and the old holder can no longer write", async () => {
        const store = await open();
        await store.append("run_a", [created(), status("running")]);
        const old = await store.acquireLease("run_a", elsewhere, ttl);
        assert.ok(old.ok);
        await store.append("run_a", [delta("by the first driver")], { leaseToken: old.lease.token });
        now += ttl + 1; // the other host went silent
        const taken = await store.acquireLease("run_a", me, ttl);
        assert.ok(taken.ok);
        assert.equal(taken.tookOverFrom?.holder.host, "another-host.invalid");
        const lost = (error: unknown) => EntourageError.isInstance(error) && error.code === "lease_lost";
        await assert.rejects(store.append("run_a", [delta("late")], { leaseToken: old.lease.token }), lost);
        await assert.rejects(store.renewLease(old.lease), lost);
        await store.releaseLease(old.lease); // no-op: it is not theirs any more
        assert.equal((await store.readLease("run_a"))?.token, taken.lease.token);
        const texts = (await store.read("run_a")).flatMap((e) =>
          e.type === "agent.text.delta" ? [e.data.text] : [],
        );
        assert.deepEqual(texts, ["by the first driver"], "the lost driver's append wrote nothing");
        await store.append("run_a", [delta("by the new driver")], { leaseToken: taken.lease.token });
      });

      it("takes over at once from a holder on this host whose process is gone", async () => {
        const store = await open();
        const dead = { pid: await deadPid(), host: hostname(), label: "entourage run" };
        assert.ok((await store.acquireLease("run_a", dead, ttl)).ok);
        const taken = await store.acquireLease("run_a", me, ttl);
        assert.ok(taken.ok && taken.tookOverFrom?.holder.pid === dead.pid);
        // Killed but not yet reaped by its parent (a zombie still answers kill(pid, 0)): gone all the same.
        const zombie = await zombiePid();
        try {
          assert.ok((await store.acquireLease("run_z", { ...dead, pid: zombie.pid }, ttl)).ok);
          const fromZombie = await store.acquireLease("run_z", me, ttl);
          assert.ok(fromZombie.ok && fromZombie.tookOverFrom?.holder.pid === zombie.pid);
        } finally {
          zombie.reap();
        }
      });

      it("keeps a heartbeating lease, and frees a released one", async () => {
        const store = await open();
        const held = await store.acquireLease("run_a", elsewhere, ttl);
        assert.ok(held.ok);
        let lease = held.lease;
        for (let i = 0; i < 3; i++) {
          now += ttl / 2;
          lease = await store.renewLease(lease);
          assert.equal((await store.acquireLease("run_a", me, ttl)).ok, false, "renewed in time");
        }
        await store.releaseLease(lease);
        assert.equal(await store.readLease("run_a"), undefined);
        assert.ok((await store.acquireLease("run_a", me, ttl)).ok);
      });

      it("lists a running run whose driver is gone as interrupted, not one that is driven or paused", async () => {
        const store = await open();
        for (const id of ["run_driven", "run_orphan", "run_paused", "run_done"])
          await store.append(id, [created(id), status("running")]);
        await store.append("run_paused", [status("paused")]);
        await store.append("run_done", [finished("succeeded")]);
        assert.ok((await store.acquireLease("run_driven", me, ttl)).ok);
        const orphan = await store.acquireLease("run_orphan", elsewhere, ttl);
        assert.ok(orphan.ok);
        now += ttl + 1;
        await store.renewLease((await store.readLease("run_driven"))!);
        const rows = new Map((await store.listRuns()).map((r) => [r.runId, r]));
        assert.equal(rows.get("run_driven")?.interrupted, undefined);
        assert.equal(rows.get("run_driven")?.driver?.holder.pid, process.pid);
        assert.equal(rows.get("run_orphan")?.interrupted, true);
        assert.equal(rows.get("run_orphan")?.driver?.holder.host, "another-host.invalid");
        assert.equal(rows.get("run_paused")?.interrupted, undefined);
        assert.equal(rows.get("run_done")?.interrupted, undefined);
        assert.equal(
          JSON.stringify(rows.get("run_orphan")).includes(orphan.lease.token),
          false,
          "no token listed",
        );
      });
    });

    it("refuses use after close", async () => {
      const store = await open();
      await store.close();
      await store.close();
      await assert.rejects(store.append("run_a", [created()]), (error: unknown) => {
        return EntourageError.isInstance(error) && error.code === "store_closed";
      });
    });
  });
}

/** The pid of a process that has exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid!;
}

/** A process that has exited but that its parent (a `sleep` that never waits) has not reaped. */
async function zombiePid(): Promise<{ pid: number; reap: () => void }> {
  const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 30"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [line] = (await once(parent.stdout!, "data")) as [Buffer];
  const pid = Number(line.toString().trim());
  for (let i = 0; i < 100; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, reap: () => parent.kill("SIGKILL") };
}
