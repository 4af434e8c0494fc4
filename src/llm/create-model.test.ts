import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../core/index.ts";
import type { ModelConfig } from "./config.ts";
import { createModel } from "./create-model.ts";

test("builds a model for every provider without touching the network", () => {
  let fetched = 0;
  const fetch = async () => {
    fetched++;
    return new Response();
  };
  for (const provider of ["openai", "anthropic", "google"] as const) {
    const model = createModel({ provider, model: "m", apiKey: "k" }, { fetch });
    assert.equal(model.provider, provider);
    assert.equal(model.id, "m");
    assert.equal(model.scripted, false);
  }
  createModel({ provider: "openai-compatible", model: "m", baseUrl: "http://127.0.0.1:1/v1" }, { fetch });
  assert.equal(fetched, 0);
});

test("refuses an unknown provider, and a vendor without a key, with a fix-it message", () => {
  assert.throws(
    () => createModel({ provider: "bogus", model: "m" } as unknown as ModelConfig),
    (e: unknown) =>
      UserError.isInstance(e) && e.code === "unknown_provider" && /openai-compatible/.test(e.message),
  );
  assert.throws(
    () => createModel({ provider: "anthropic", model: "m" }),
    (e: unknown) =>
      UserError.isInstance(e) && e.code === "missing_api_key" && /ANTHROPIC_API_KEY/.test(e.message),
  );
  assert.throws(
    () => createModel({ provider: "openai-compatible", model: "m" }),
    (e: unknown) => UserError.isInstance(e) && e.code === "missing_base_url",
  );
});
