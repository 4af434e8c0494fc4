import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UserError } from "../core/index.ts";
import { defaultModels, resolveModelConfig } from "./config.ts";

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    assert.ok(UserError.isInstance(error), `expected a UserError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a UserError");
}

describe("resolveModelConfig", () => {
  test("with nothing configured, the error lists every way to configure a model", () => {
    const error = userError(() => resolveModelConfig({ flags: {}, env: {} }));
    assert.equal(error.code, "no_model_configured");
    for (const hint of [
      "OPENAI_API_KEY",
      "ANTHROPIC_API_KEY",
      "GOOGLE_GENERATIVE_AI_API_KEY",
      "GEMINI_API_KEY",
      "ENTOURAGE_PROVIDER",
      "ENTOURAGE_MODEL",
      "ENTOURAGE_BASE_URL",
      "--provider",
      "--model",
      "--base-url",
      "--provider openai-compatible --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder",
    ]) {
      assert.ok(error.message.includes(hint), `message mentions ${hint}`);
    }
  });

  test("infers the provider from the key that is set, openai before anthropic before google", () => {
    assert.deepEqual(resolveModelConfig({ env: { GEMINI_API_KEY: "g" } }), {
      provider: "google",
      model: defaultModels.google,
      apiKey: "g",
    });
    assert.equal(
      resolveModelConfig({ env: { ANTHROPIC_API_KEY: "a", GEMINI_API_KEY: "g" } }).provider,
      "anthropic",
    );
    assert.deepEqual(resolveModelConfig({ env: { ANTHROPIC_API_KEY: "a", OPENAI_API_KEY: "o" } }), {
      provider: "openai",
      model: defaultModels.openai,
      apiKey: "o",
    });
    assert.equal(
      resolveModelConfig({ env: { GOOGLE_GENERATIVE_AI_API_KEY: "g1", GEMINI_API_KEY: "g2" } }).apiKey,
      "g1",
    );
  });

  test("ENTOURAGE_* variables choose provider, model and base URL; flags win over them", () => {
    const env = {
      ENTOURAGE_PROVIDER: "anthropic",
      ENTOURAGE_MODEL: "claude-haiku-4-5",
      ANTHROPIC_API_KEY: "a",
      OPENAI_API_KEY: "o",
    };
    assert.deepEqual(resolveModelConfig({ env }), {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      apiKey: "a",
    });
    assert.deepEqual(resolveModelConfig({ env, flags: { provider: "openai", model: "gpt-5.4-mini" } }), {
      provider: "openai",
      model: "gpt-5.4-mini",
      apiKey: "o",
    });
  });

  test("a local openai-compatible server needs a base URL and a model, and no key", () => {
    assert.deepEqual(
      resolveModelConfig({
        flags: {
          provider: "openai-compatible",
          baseUrl: "http://127.0.0.1:11434/v1",
          model: "qwen2.5-coder",
        },
        env: { OPENAI_API_KEY: "must-not-leak" },
      }),
      { provider: "openai-compatible", model: "qwen2.5-coder", baseUrl: "http://127.0.0.1:11434/v1" },
    );
    assert.equal(
      resolveModelConfig({
        env: {
          ENTOURAGE_PROVIDER: "openai-compatible",
          ENTOURAGE_BASE_URL: "https://openrouter.ai/api/v1",
          ENTOURAGE_MODEL: "x/y",
          ENTOURAGE_API_KEY: "or-key",
        },
      }).apiKey,
      "or-key",
    );
    assert.equal(
      userError(() => resolveModelConfig({ flags: { provider: "openai-compatible", model: "m" } })).code,
      "missing_base_url",
    );
    assert.equal(
      userError(() =>
        resolveModelConfig({ flags: { provider: "openai-compatible", baseUrl: "http://h/v1" } }),
      ).code,
      "missing_model",
    );
  });

  test("an unknown provider names the valid ones", () => {
    const error = userError(() => resolveModelConfig({ flags: { provider: "openia" } }));
    assert.equal(error.code, "unknown_provider");
    assert.match(error.message, /"openia"/);
    assert.match(error.message, /openai, anthropic, google, openai-compatible/);
  });

  test("a named vendor without a key says which variable to set", () => {
    const error = userError(() => resolveModelConfig({ flags: { provider: "google" }, env: {} }));
    assert.equal(error.code, "missing_api_key");
    assert.match(error.message, /GOOGLE_GENERATIVE_AI_API_KEY or GEMINI_API_KEY/);
  });

  test("a vendor provider behind a base URL (a proxy) needs no key; an explicit key flag wins", () => {
    assert.deepEqual(
      resolveModelConfig({ flags: { provider: "openai", baseUrl: "http://127.0.0.1:8080/v1" } }),
      {
        provider: "openai",
        model: defaultModels.openai,
        baseUrl: "http://127.0.0.1:8080/v1",
      },
    );
    assert.equal(
      resolveModelConfig({ flags: { apiKey: "flag" }, env: { OPENAI_API_KEY: "env" } }).apiKey,
      "flag",
    );
  });

  test("a base URL without a provider is pointed out", () => {
    const error = userError(() =>
      resolveModelConfig({ env: { ENTOURAGE_BASE_URL: "http://127.0.0.1:11434/v1" } }),
    );
    assert.equal(error.code, "no_model_configured");
    assert.match(error.message, /base URL is set but no provider/);
  });
});
