import type { LanguageModel } from "ai";
import { UserError } from "../core/index.ts";
import { apiKeyVariables, isProviderName, type ModelConfig, providerNames } from "./config.ts";
import type { Model } from "./model.ts";
import { AiSdkModel } from "./providers/ai-sdk-model.ts";
import type { RetryPolicy, Sleep } from "./retry.ts";

export interface CreateModelDeps {
  /** Injected so tests can count or observe requests; defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

/**
 * Sent as the key to a server reached through --base-url when no key is configured: local servers
 * (Ollama, vLLM, llama.cpp, LM Studio) ignore it, and the SDKs refuse to send a request without one.
 */
const NO_KEY = "not-needed";

/**
 * Builds a Model for a resolved config. Provider SDKs are imported on the first request, not here, so
 * commands that never call a model (`--version`, `runs`) do not pay for loading them.
 */
export function createModel(config: ModelConfig, deps: CreateModelDeps = {}): Model {
  const { provider, model, baseUrl } = config;
  if (!isProviderName(provider)) {
    throw new UserError(
      "unknown_provider",
      `Unknown model provider "${String(provider)}". Valid providers: ${providerNames.join(", ")}.`,
    );
  }
  if (provider === "openai-compatible" && !baseUrl) {
    throw new UserError(
      "missing_base_url",
      "The openai-compatible provider needs the server's URL: pass --base-url (or set ENTOURAGE_BASE_URL).",
    );
  }
  if (!config.apiKey && !baseUrl && provider !== "openai-compatible") {
    throw new UserError(
      "missing_api_key",
      `The ${provider} provider needs an API key: set ${apiKeyVariables[provider].join(" or ")} or pass --api-key.`,
    );
  }
  const apiKey = config.apiKey ?? NO_KEY;
  const fetch = deps.fetch;
  const common = { apiKey, ...(baseUrl ? { baseURL: baseUrl } : {}), ...(fetch ? { fetch } : {}) };

  const languageModel = async (): Promise<LanguageModel> => {
    switch (provider) {
      case "openai": {
        const { createOpenAI } = await import("@ai-sdk/openai");
        const openai = createOpenAI(common);
        // openai(model) speaks the Responses API, which local and proxy servers mostly lack.
        return baseUrl ? openai.chat(model) : openai(model);
      }
      case "anthropic": {
        const { createAnthropic } = await import("@ai-sdk/anthropic");
        return createAnthropic(common)(model);
      }
      case "google": {
        const { createGoogle } = await import("@ai-sdk/google");
        return createGoogle(common)(model);
      }
      case "openai-compatible": {
        const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
        return createOpenAICompatible({
          ...common,
          baseURL: baseUrl as string,
          name: "openai-compatible",
          includeUsage: true,
        }).chatModel(model);
      }
    }
  };

  return new AiSdkModel({
    provider,
    id: model,
    ...(baseUrl ? { baseUrl } : {}),
    languageModel,
    keyVariables: provider === "openai-compatible" ? ["ENTOURAGE_API_KEY"] : apiKeyVariables[provider],
    ...(deps.retry ? { retry: deps.retry } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
}
