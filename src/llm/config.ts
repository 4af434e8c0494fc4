import { UserError } from "../core/index.ts";

export const providerNames = ["openai", "anthropic", "google", "openai-compatible"] as const;
export type ProviderName = (typeof providerNames)[number];

/** What `createModel` needs. `apiKey` is optional for local servers reached through `baseUrl`. */
export interface ModelConfig {
  provider: ProviderName;
  model: string;
  baseUrl?: string;
  apiKey?: string;
}

/** Used when a provider is chosen (or inferred from a key) but no model is named. */
export const defaultModels: Record<Exclude<ProviderName, "openai-compatible">, string> = {
  openai: "gpt-5.4",
  anthropic: "claude-sonnet-4-6",
  google: "gemini-2.5-pro",
};

/**
 * The vendors' usual key variables, in the order they are looked up. An openai-compatible server (often
 * local, or a third party like OpenRouter) never receives OPENAI_API_KEY implicitly: that would hand the
 * user's OpenAI key to another host. It takes --api-key or ENTOURAGE_API_KEY.
 */
export const apiKeyVariables: Record<ProviderName, readonly string[]> = {
  openai: ["OPENAI_API_KEY"],
  anthropic: ["ANTHROPIC_API_KEY"],
  google: ["GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"],
  "openai-compatible": ["ENTOURAGE_API_KEY"],
};

export interface ModelFlags {
  provider?: string;
  model?: string;
  baseUrl?: string;
  apiKey?: string;
}

export function isProviderName(value: string): value is ProviderName {
  return (providerNames as readonly string[]).includes(value);
}

/**
 * Picks the provider, model, base URL and key. Flags win over `ENTOURAGE_*` variables; without either,
 * the provider is inferred from which vendor key is set (openai > anthropic > google). Throws a
 * `UserError` that lists every way to configure a model when nothing is configured.
 */
export function resolveModelConfig(input: {
  flags?: ModelFlags;
  env?: Record<string, string | undefined>;
}): ModelConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const pick = (...values: (string | undefined)[]) =>
    values.map((v) => v?.trim()).find((v) => v) || undefined;

  const baseUrl = pick(flags.baseUrl, env.ENTOURAGE_BASE_URL);
  const model = pick(flags.model, env.ENTOURAGE_MODEL);
  const explicit = pick(flags.provider, env.ENTOURAGE_PROVIDER);

  let provider: ProviderName;
  if (explicit) {
    if (!isProviderName(explicit)) {
      throw new UserError(
        "unknown_provider",
        `Unknown model provider "${explicit}". Valid providers: ${providerNames.join(", ")}. ` +
          "Set it with --provider or ENTOURAGE_PROVIDER.",
      );
    }
    provider = explicit;
  } else {
    const inferred = (["openai", "anthropic", "google"] as const).find((p) => keyFrom(p, env));
    if (!inferred) throw noModelConfigured(baseUrl, model);
    provider = inferred;
  }

  const apiKey = pick(flags.apiKey) ?? keyFrom(provider, env);
  if (provider === "openai-compatible") {
    if (!baseUrl) {
      throw new UserError(
        "missing_base_url",
        "The openai-compatible provider needs the server's URL: pass --base-url (or set ENTOURAGE_BASE_URL), " +
          "e.g. --base-url http://127.0.0.1:11434/v1 for Ollama.",
      );
    }
    if (!model) {
      throw new UserError(
        "missing_model",
        "The openai-compatible provider needs a model name: pass --model (or set ENTOURAGE_MODEL), " +
          "e.g. --model qwen2.5-coder for Ollama.",
      );
    }
    return { provider, model, baseUrl, ...(apiKey ? { apiKey } : {}) };
  }
  if (!apiKey && !baseUrl) {
    const vars = apiKeyVariables[provider].join(" or ");
    throw new UserError(
      "missing_api_key",
      `The ${provider} provider needs an API key: set ${vars}, or use a local server with ` +
        "--provider openai-compatible --base-url URL --model NAME.",
    );
  }
  return {
    provider,
    model: model ?? defaultModels[provider],
    ...(baseUrl ? { baseUrl } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

function keyFrom(provider: ProviderName, env: Record<string, string | undefined>): string | undefined {
  for (const name of apiKeyVariables[provider]) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

function noModelConfigured(baseUrl: string | undefined, model: string | undefined): UserError {
  const hint =
    baseUrl || model
      ? `\n\nA ${baseUrl ? "base URL" : "model"} is set but no provider: add --provider (or ENTOURAGE_PROVIDER).`
      : "";
  return new UserError(
    "no_model_configured",
    [
      "No model is configured, so Entourage has nothing to talk to. Configure one of these ways:",
      "",
      "  • an API key in the environment (the provider is inferred, a default model is used):",
      `      OPENAI_API_KEY=…                                   (default model ${defaultModels.openai})`,
      `      ANTHROPIC_API_KEY=…                                (default model ${defaultModels.anthropic})`,
      `      GOOGLE_GENERATIVE_AI_API_KEY=… or GEMINI_API_KEY=… (default model ${defaultModels.google})`,
      "  • flags: --provider openai|anthropic|google|openai-compatible --model NAME [--base-url URL]",
      "  • environment: ENTOURAGE_PROVIDER, ENTOURAGE_MODEL, ENTOURAGE_BASE_URL",
      "  • a local model, e.g. Ollama (also vLLM, llama.cpp, LM Studio, OpenRouter):",
      '      entourage run "<task>" --provider openai-compatible --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder',
      "",
      "To try Entourage without any model, run `entourage demo` (a scripted model, not a real LLM).",
    ].join("\n") + hint,
  );
}
