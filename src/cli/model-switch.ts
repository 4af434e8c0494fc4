/**
 * A run is not tied to the model it started with: `resume`, `fork` and `rewind` (and the API's resume) may
 * continue it on another provider, model or server. The switch is an event (`model.changed`), so the run's
 * state — and every later resume — follows it from the log.
 */
import { type EntourageEvent, type EventData, foldRun } from "../core/index.ts";
import type { Model } from "../llm/index.ts";
import type { EventStore } from "../store/index.ts";
import { type ModelFlags, makeModel } from "./compose.ts";

type ModelRef = EventData<"run.created">["model"];

/**
 * The model a run continues on: each of provider, model and base URL from the flags, else from the
 * `ENTOURAGE_*` environment, else as recorded. Undefined when none is given: the run stays on its model.
 */
export function modelTarget(
  recorded: ModelRef,
  flags: ModelFlags,
  env = process.env,
): ModelFlags | undefined {
  const pick = (flag?: string, variable?: string) => flag ?? (variable?.trim() || undefined);
  const provider = pick(flags.provider, env.ENTOURAGE_PROVIDER);
  const model = pick(flags.model, env.ENTOURAGE_MODEL);
  const baseUrl = pick(flags.baseUrl, env.ENTOURAGE_BASE_URL);
  if (provider === undefined && model === undefined && baseUrl === undefined) return undefined;
  const switching = provider !== undefined && provider !== recorded.provider;
  return {
    provider: provider ?? recorded.provider,
    // A new provider does not inherit the old provider's model name (its default applies) or server.
    model: model ?? (switching ? undefined : recorded.model),
    baseUrl: baseUrl ?? (switching ? undefined : recorded.baseUrl),
  };
}

function sameModel(a: ModelRef, b: ModelRef): boolean {
  return (
    a.provider === b.provider &&
    a.model === b.model &&
    a.baseUrl === b.baseUrl &&
    Boolean(a.scripted) === Boolean(b.scripted)
  );
}

/**
 * The model the run goes on with, given `flags`: built here, so a model that cannot be configured throws a
 * UserError before anything is written. `record` then logs `model.changed` when it differs from the run's
 * current one (a no-op otherwise). `recorded` builds the run's own model (e.g. the scripted demo's) when no
 * other is asked for; without it, `model` is undefined then (rewind needs no model, only the record).
 */
export async function planModelSwitch(
  runId: string,
  events: readonly EntourageEvent[],
  flags: ModelFlags,
  options: { idleTimeoutMs: number; maxRetries: number; recorded?: (ref: ModelRef) => Promise<Model> },
): Promise<{ model: Model | undefined; record: (store: EventStore, by: string) => Promise<void> }> {
  const from = foldRun(runId, events).model;
  const target = modelTarget(from, flags);
  const model = target ? await makeModel(target, options) : await options.recorded?.(from);
  const to: ModelRef =
    target && model
      ? {
          provider: model.provider,
          model: model.id,
          baseUrl: target.baseUrl,
          scripted: model.scripted || undefined,
        }
      : from;
  const record = async (store: EventStore, by: string) => {
    if (sameModel(from, to)) return;
    const describe = (m: ModelRef) => `${m.provider}/${m.model}${m.baseUrl ? ` at ${m.baseUrl}` : ""}`;
    await store.append(runId, [
      { type: "model.changed", data: { from, to, by, reason: `${by}: ${describe(from)} → ${describe(to)}` } },
    ]);
  };
  return { model, record };
}
