import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadScenario } from "../fake-llm/scenario.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, makeSampleRepo, ROOT, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { type DbEvent, dbEvents, dbRunIds, describeResult, fakeModelArgs } from "./support.ts";

/**
 * Traces over OpenTelemetry, as a user gets them: the built CLI runs a task against the fake model server
 * with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver this test runs (node:http on
 * 127.0.0.1), which keeps every request it gets. The span tree and its attributes are checked against the
 * run's own event log; `entourage export --otlp` must send the very same trace again; a receiver that
 * answers 500 or is not there never fails the run, and makes the export command fail, naming the URL.
 */

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: OtlpBody;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
  events: { name: string; attributes: { key: string; value: OtlpValue }[] }[];
  status: { code?: number; message?: string };
}
interface OtlpBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

/** An OTLP/HTTP receiver: keeps each POST, answers 200 `{}` or, with `failing`, 500. */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  failing: boolean;
  close: () => Promise<void>;
}> {
  const state = { failing: false, received: [] as Received[] };
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      state.received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(text) as OtlpBody });
      if (state.failing) {
        res.writeHead(500, { "content-type": "text/plain" }).end("collector is full");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

const attr = (span: { attributes: { key: string; value: OtlpValue }[] }, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.arrayValue) return v.arrayValue.values.map((x) => x.stringValue);
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
};

const spansOf = (body: OtlpBody) => body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));

describe("traces over OpenTelemetry (OTLP/HTTP to a local receiver)", () => {
  const home = tempDir("otel-home");
  const repo = makeSampleRepo();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  /** One run of the date fix (read, edit, npm test, finish) with these extra environment variables. */
  const runTask = async (extra: Record<string, string>) => {
    const model = await startFakeModelServer({
      scenario: await loadScenario(join(ROOT, "demo", "fix-date.scenario.json")),
    });
    try {
      const result = await runCli(
        [
          "run",
          "Fix the failing tests",
          "--repo",
          repo,
          ...fakeModelArgs(model.baseUrl),
          "--json",
          "--no-server",
        ],
        { env: cliEnv(home, extra) },
      );
      const runId = String(JSON.parse(result.stdout.split("\n")[0] ?? "{}").runId);
      return { result, runId, modelRequests: model.requests.length };
    } finally {
      await model.close();
    }
  };

  before(async () => {
    receiver = await startReceiver();
  });

  after(async () => {
    await receiver.close();
    removeDir(home);
    removeDir(repo);
  });

  describe("a run with OTEL_EXPORTER_OTLP_ENDPOINT set", () => {
    let run: Awaited<ReturnType<typeof runTask>>;
    let events: DbEvent[];
    let spans: OtlpSpan[];
    const env = () => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20t0ken,x-team=core",
      OTEL_SERVICE_NAME: "entourage-e2e",
    });

    before(async () => {
      run = await runTask(env());
      events = dbEvents(home, run.runId);
      spans = receiver.received[0] ? spansOf(receiver.received[0].body) : [];
    });

    it("succeeds and sends one OTLP/HTTP JSON request to /v1/traces with the configured headers", () => {
      assert.equal(run.result.code, 0, describeResult(run.result));
      assert.equal(receiver.received.length, 1);
      const [request] = receiver.received;
      assert.equal(request?.path, "/v1/traces");
      assert.equal(request?.headers["content-type"], "application/json");
      assert.equal(request?.headers.authorization, "Bearer t0ken");
      assert.equal(request?.headers["x-team"], "core");
      const resource = request!.body.resourceSpans[0]!.resource;
      assert.equal(attr(resource, "service.name"), "entourage-e2e");
      assert.match(
        run.result.stderr,
        new RegExp(`\\(${spans.length} spans\\) sent to ${receiver.url}/v1/traces`),
      );
    });

    it("is one trace: run → agent → model calls and tool calls, every parent present", () => {
      assert.equal(new Set(spans.map((s) => s.traceId)).size, 1);
      assert.match(spans[0]!.traceId, /^[0-9a-f]{32}$/);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      assert.equal(byId.size, spans.length, "span ids are unique");
      const roots = spans.filter((s) => !s.parentSpanId);
      assert.deepEqual(
        roots.map((s) => s.name),
        ["invoke_workflow single"],
      );
      for (const s of spans) if (s.parentSpanId) assert.ok(byId.has(s.parentSpanId), `parent of ${s.name}`);
      const root = roots[0]!;
      const agent = spans.find((s) => s.name === "invoke_agent general");
      assert.equal(agent?.parentSpanId, root.spanId);
      const children = spans.filter((s) => s.parentSpanId === agent?.spanId).map((s) => s.name);
      assert.deepEqual(
        children.filter((n) => n.startsWith("chat ")),
        Array(run.modelRequests).fill("chat fake-coder"),
      );
      assert.deepEqual(
        children.filter((n) => n.startsWith("execute_tool ")).sort(),
        events
          .filter((e) => e.type === "tool.call.requested")
          .map((e) => `execute_tool ${e.data.name}`)
          .sort(),
      );
      assert.equal(attr(root, "gen_ai.operation.name"), "invoke_workflow");
      assert.equal(attr(root, "gen_ai.conversation.id"), run.runId);
      assert.equal(attr(root, "entourage.run.status"), "succeeded");
      assert.equal(root.status.code, undefined);
      for (const s of spans)
        assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), `${s.name} ends after it starts`);
    });

    it("model call spans carry the GenAI attributes: model, provider, server, usage, finish reasons", () => {
      const chats = spans.filter((s) => s.name.startsWith("chat "));
      const responses = events.filter((e) => e.type === "llm.response");
      assert.equal(chats.length, responses.length);
      chats.forEach((chat, i) => {
        const usage = responses[i]!.data.usage as { inputTokens: number; outputTokens: number };
        assert.equal(chat.kind, 3, "CLIENT");
        assert.equal(attr(chat, "gen_ai.operation.name"), "chat");
        assert.equal(attr(chat, "gen_ai.request.model"), "fake-coder");
        assert.equal(attr(chat, "gen_ai.provider.name"), "openai");
        assert.equal(attr(chat, "server.address"), "127.0.0.1");
        assert.equal(attr(chat, "gen_ai.usage.input_tokens"), usage.inputTokens);
        assert.equal(attr(chat, "gen_ai.usage.output_tokens"), usage.outputTokens);
        assert.deepEqual(attr(chat, "gen_ai.response.finish_reasons"), [
          String(responses[i]!.data.finishReason).replaceAll("-", "_"),
        ]);
      });
      const agent = spans.find((s) => s.name === "invoke_agent general")!;
      assert.equal(attr(agent, "gen_ai.operation.name"), "invoke_agent");
      assert.equal(attr(agent, "gen_ai.agent.name"), "general");
      assert.equal(
        attr(agent, "gen_ai.usage.input_tokens"),
        responses.reduce((n, e) => n + (e.data.usage as { inputTokens: number }).inputTokens, 0),
      );
    });

    it("tool call spans carry the call id from the log, and a failing command is an error with its exit code", () => {
      const requested = events.filter((e) => e.type === "tool.call.requested");
      const tools = spans.filter((s) => s.name.startsWith("execute_tool "));
      assert.deepEqual(
        tools.map((s) => attr(s, "gen_ai.tool.call.id")).sort(),
        requested.map((e) => String(e.data.callId)).sort(),
      );
      const commands = tools.filter((s) => attr(s, "gen_ai.tool.name") === "run_command");
      assert.deepEqual(
        commands.map((s) => attr(s, "process.exit.code")),
        [1, 0],
      );
      assert.equal(commands[0]?.status.code, 2, "ERROR");
      assert.equal(attr(commands[0]!, "error.type"), "exit_code");
      assert.equal(commands[1]?.status.code, undefined);
      // No content leaves the machine: neither the task, nor a tool's arguments, nor its output.
      assert.doesNotMatch(
        JSON.stringify(receiver.received[0]?.body),
        /Fix the failing|formatISODate|TAP version/,
      );
    });

    it("`entourage export --otlp` sends the same trace again: same ids, same request", async () => {
      const exported = await runCli(["export", "--otlp", run.runId], { env: cliEnv(home, env()) });
      assert.equal(exported.code, 0, describeResult(exported));
      assert.match(
        exported.stdout,
        new RegExp(`trace ${spans[0]!.traceId} \\(${spans.length} spans\\) sent to`),
      );
      assert.equal(receiver.received.length, 2);
      assert.deepEqual(receiver.received[1]?.body, receiver.received[0]?.body);
    });

    it("`export --otlp --json` prints that request instead of sending it; --endpoint overrides the variable", async () => {
      const printed = await runCli(["export", "--otlp", "--json", run.runId], { env: cliEnv(home, env()) });
      assert.equal(printed.code, 0, describeResult(printed));
      assert.deepEqual(JSON.parse(printed.stdout), receiver.received[0]?.body);
      assert.equal(receiver.received.length, 2, "--json sends nothing");
      const other = await runCli(["export", "--otlp", "--endpoint", `${receiver.url}/`, run.runId], {
        env: cliEnv(home, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" }),
      });
      assert.equal(other.code, 0, describeResult(other));
      assert.equal(receiver.received.at(-1)?.path, "/v1/traces");
    });
  });

  it("a receiver answering 500: the run still succeeds with a warning; export fails naming the URL and status", async () => {
    receiver.failing = true;
    const before = receiver.received.length;
    try {
      const run = await runTask({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces` });
      assert.equal(run.result.code, 0, describeResult(run.result));
      assert.equal(dbEvents(home, run.runId).at(-1)?.data.status, "succeeded");
      assert.equal(receiver.received.length, before + 1);
      assert.equal(receiver.received.at(-1)?.path, "/custom/traces", "the traces endpoint is used as is");
      assert.match(run.result.stderr, /trace of run .* was not exported/);
      assert.match(run.result.stderr, new RegExp(`${receiver.url}/custom/traces answered HTTP 500`));
      const exported = await runCli(["export", "--otlp", run.runId], {
        env: cliEnv(home, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces` }),
      });
      assert.equal(exported.code, 1, describeResult(exported));
      assert.match(
        exported.stderr,
        new RegExp(
          `The OTLP receiver at ${receiver.url}/custom/traces answered HTTP 500 Internal Server Error: collector is full`,
        ),
      );
    } finally {
      receiver.failing = false;
    }
  });

  it("a receiver that is down: the run still succeeds with a warning; export fails naming the URL", async () => {
    const gone = await startReceiver();
    await gone.close();
    const run = await runTask({ OTEL_EXPORTER_OTLP_ENDPOINT: gone.url });
    assert.equal(run.result.code, 0, describeResult(run.result));
    assert.equal(dbEvents(home, run.runId).at(-1)?.data.status, "succeeded");
    assert.match(
      run.result.stderr,
      new RegExp(`Could not send traces to ${gone.url}/v1/traces: .*ECONNREFUSED`),
    );
    assert.match(run.result.stderr, new RegExp(`retry: entourage export --otlp ${run.runId}`));
    const exported = await runCli(["export", "--otlp", run.runId], {
      env: cliEnv(home, { OTEL_EXPORTER_OTLP_ENDPOINT: gone.url }),
    });
    assert.equal(exported.code, 1, describeResult(exported));
    assert.match(
      exported.stderr,
      new RegExp(`Could not send traces to ${gone.url}/v1/traces: .*ECONNREFUSED`),
    );
  });

  it("export: an unknown run, a missing endpoint and a missing format are usage errors saying what to do", async () => {
    const unknown = await runCli(["export", "--otlp", "run_nope"], {
      env: cliEnv(home, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }),
    });
    assert.equal(unknown.code, 2, describeResult(unknown));
    assert.match(unknown.stderr, /No run with id run_nope/);
    const runId = dbRunIds(home)[0]!;
    const missing = await runCli(["export", "--otlp", runId], { env: cliEnv(home) });
    assert.equal(missing.code, 2, describeResult(missing));
    assert.match(missing.stderr, /No OTLP endpoint: pass --endpoint .* or set OTEL_EXPORTER_OTLP_ENDPOINT/);
    const format = await runCli(["export", runId], { env: cliEnv(home) });
    assert.equal(format.code, 2, describeResult(format));
    assert.match(format.stderr, /entourage export --otlp/);
  });
});
