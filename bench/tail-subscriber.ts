/**
 * Child process of the store bench: opens the store (a SQLite file or a PostgreSQL URL), subscribes to
 * every run, and for each `agent.text.delta` whose text is a send time (epoch ms, sub-ms precision) prints
 * how long it took to arrive here. Prints "ready" once subscribed; exits after `count` events.
 * Usage: node tail-subscriber.ts <file-or-url> <count>
 */
import type { EventStore } from "../src/store/index.ts";
import { openSqliteEventStore } from "../src/store/index.ts";

const [where = "", countArg = "0"] = process.argv.slice(2);
const count = Number(countArg);
const store: EventStore = /^postgres(ql)?:/.test(where)
  ? await (await import("../src/store/backends/postgres.ts")).openPostgresEventStore(where)
  : await openSqliteEventStore(where);
const now = () => performance.timeOrigin + performance.now();
let seen = 0;
const alive = setInterval(() => {}, 1000); // SQLite's tail timer does not keep a process alive by itself
const done = new Promise<void>((resolve) => {
  store.subscribe("*", (event) => {
    if (event.type !== "agent.text.delta") return;
    process.stdout.write(`${(now() - Number(event.data.text)).toFixed(3)}\n`);
    if (++seen === count) resolve();
  });
});
await store.nextSeq("ready"); // settles once the subscription is live
process.stdout.write("ready\n");
await done;
clearInterval(alive);
await store.close();
