import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../core/index.ts";
import { otlpConfig, parseHeaders, redactUrl, runEndOtlpConfig } from "./exporter.ts";
import { otlpTraceRequest, unixNanos } from "./otlp-json.ts";

describe("otlpConfig: the standard OTEL_EXPORTER_OTLP_* variables", () => {
  it("is off without an endpoint", () => {
    assert.equal(otlpConfig({}), undefined);
    assert.equal(otlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " }), undefined);
  });

  it("adds /v1/traces to the base endpoint (kept once), and takes the traces endpoint as is", () => {
    const url = (env: Record<string, string>, endpoint?: string) => otlpConfig(env, { endpoint })?.url;
    assert.equal(
      url({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318" }),
      "http://localhost:4318/v1/traces",
    );
    assert.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/otel/" }), "http://c:4318/otel/v1/traces");
    assert.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/v1/traces" }), "http://c:4318/v1/traces");
    assert.equal(
      url({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:1",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://b/ingest",
      }),
      "https://b/ingest",
    );
    assert.equal(
      url({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://b/ingest" }, "http://flag:4318"),
      "http://flag:4318/v1/traces",
    );
  });

  it("headers: k=v pairs, URL-decoded, the traces variable winning per key; timeouts; service name", () => {
    const config = otlpConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Basic%20abc%3D, x-a = 1 ",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-a=2",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2500",
      OTEL_SERVICE_NAME: "agents",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=ci,team=core",
    })!;
    assert.deepEqual(config.headers, { authorization: "Basic abc=", "x-a": "2" });
    assert.equal(config.timeoutMs, 2500);
    assert.deepEqual(config.resource, {
      serviceName: "agents",
      attributes: { "deployment.environment": "ci", team: "core" },
    });
    const defaults = otlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318" })!;
    assert.equal(defaults.timeoutMs, 10_000);
    assert.equal(defaults.resource.serviceName, "entourage");
  });

  it("refuses what it cannot use, naming the variable and the fix", () => {
    const refused = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => otlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318", ...env }),
        (e) => {
          assert.ok(UserError.isInstance(e));
          assert.match(e.message, pattern);
          return true;
        },
      );
    refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318" }, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http/);
    refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, /OTEL_EXPORTER_OTLP_ENDPOINT is not a URL/);
    refused({ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, /OTEL_EXPORTER_OTLP_HEADERS .*key=value/);
    refused({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, /not gRPC.*4318/);
    refused(
      { OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "soon" },
      /OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be a positive/,
    );
  });

  it("run-end export honours OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318" };
    assert.ok(runEndOtlpConfig(env));
    assert.equal(runEndOtlpConfig({ ...env, OTEL_SDK_DISABLED: "true" }), undefined);
    assert.equal(runEndOtlpConfig({ ...env, OTEL_TRACES_EXPORTER: "none" }), undefined);
  });

  it("keeps credentials out of messages", () => {
    assert.equal(redactUrl("https://user:secret@collector/v1/traces"), "https://***@collector/v1/traces");
    assert.deepEqual(parseHeaders(undefined, "X"), {});
  });
});

describe("otlpTraceRequest: OTLP's JSON encoding", () => {
  it("hex ids, nanosecond strings, integer enums, int64 as strings, doubles, arrays, error status", () => {
    const request = otlpTraceRequest(
      [
        {
          traceId: "0af7651916cd43dd8448eb211c80319c",
          spanId: "b7ad6b7169203331",
          parentSpanId: "00f067aa0ba902b7",
          name: "chat m",
          kind: "client",
          startMs: 1_796_406_362_194,
          endMs: 1_796_406_362_194.5,
          attributes: { n: 3, cost: 0.25, ok: true, reasons: ["stop"], s: "x" },
          events: [{ timeMs: 1_796_406_362_194, name: "llm.retry", attributes: {} }],
          links: [],
          status: { code: "error", message: "boom" },
        },
      ],
      { serviceName: "svc" },
    );
    const span = request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.deepEqual(request.resourceSpans[0]!.resource.attributes, [
      { key: "service.name", value: { stringValue: "svc" } },
    ]);
    assert.equal(span.kind, 3);
    assert.equal(span.startTimeUnixNano, "1796406362194000000");
    assert.equal(span.endTimeUnixNano, "1796406362194500000");
    assert.deepEqual(span.attributes, [
      { key: "n", value: { intValue: "3" } },
      { key: "cost", value: { doubleValue: 0.25 } },
      { key: "ok", value: { boolValue: true } },
      { key: "reasons", value: { arrayValue: { values: [{ stringValue: "stop" }] } } },
      { key: "s", value: { stringValue: "x" } },
    ]);
    assert.deepEqual(span.status, { code: 2, message: "boom" });
    assert.equal(unixNanos(0), "0");
  });
});
