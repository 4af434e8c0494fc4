#!/usr/bin/env node
/**
 * Runs the fake model server as its own process, for end-to-end tests of the built CLI:
 *
 *   node test/fake-llm/main.ts --scenario FILE [--port N] [--record FILE] [--per-conversation]
 *
 * Prints `listening http://127.0.0.1:PORT` on stdout once ready; with --record, appends each request as
 * one JSON line. Stops on SIGINT/SIGTERM; scenario failures (expectation mismatches, exhaustion) are
 * printed on stderr as they happen and make the exit code 1.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startFakeModelServer } from "./server.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string" },
    port: { type: "string", default: "0" },
    record: { type: "string" },
    "per-conversation": { type: "boolean", default: false },
  },
});

if (!values.scenario) {
  process.stderr.write("usage: main.ts --scenario FILE [--port N] [--record FILE] [--per-conversation]\n");
  process.exit(2);
}

const record = values.record;
if (record) writeFileSync(record, "");

const server = await startFakeModelServer({
  scenario: values.scenario,
  port: Number(values.port),
  perConversation: values["per-conversation"],
  onRequest: record
    ? (r) =>
        appendFileSync(
          record,
          `${JSON.stringify({ index: r.index, time: r.time, method: r.method, path: r.path, headers: r.headers, body: r.body })}\n`,
        )
    : undefined,
  onFailure: (message) => process.stderr.write(`${message}\n`),
});

process.stdout.write(`listening ${server.url}\n`);

const stop = async () => {
  await server.close();
  process.exit(server.failures.length > 0 ? 1 : 0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
