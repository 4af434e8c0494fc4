import { AbortedError, SystemError, type Usage } from "../core/index.ts";
import type { Model, ModelPart, ModelRequest } from "./model.ts";

/**
 * One answer of the scripted model. The same field names as a fake-model-server turn
 * (test/fake-llm/README.md), minus the HTTP faults.
 */
export interface ScriptedTurn {
  text?: string;
  /** Explicit text chunks; overrides the word split of `text`. */
  textChunks?: string[];
  reasoning?: string;
  toolCalls?: { id?: string; name: string; arguments?: Record<string, unknown>; argumentsText?: string }[];
  /** Defaults to an estimate (characters / 4), so demo views show plausible token counts. */
  usage?: { inputTokens?: number; outputTokens?: number; cachedInputTokens?: number };
  /** Defaults to `tool-calls` when the turn calls tools, else `stop`. */
  finishReason?: string;
}

/** A turn, or a function that builds it from the request (e.g. to answer with what a tool returned). */
export type ScriptStep = ScriptedTurn | ((request: ModelRequest, turnIndex: number) => ScriptedTurn);

export interface ScriptedModel extends Model {
  readonly scripted: true;
  remainingTurns(): number;
}

/** Delays that pace a scripted model like a slow typist, so a person watching has time to step in. */
export interface ScriptPace {
  /** Before each turn's first part. */
  turnMs: number;
  /** Between streamed text pieces. */
  chunkMs: number;
}

/**
 * A Model that replays an in-memory script, with zero latency unless `pace` is given. For benchmarks and
 * `entourage demo` only: `scripted` is true and `provider` is "scripted", and every view must say it is
 * not a real LLM.
 */
export function createScriptedModel(options: {
  turns: ScriptStep[];
  id?: string;
  pace?: ScriptPace;
}): ScriptedModel {
  const pace = options.pace;
  const turns = [...options.turns];
  let next = 0;
  return {
    provider: "scripted",
    id: options.id ?? "scripted",
    scripted: true,
    remainingTurns: () => turns.length - next,
    async *stream(request: ModelRequest): AsyncGenerator<ModelPart> {
      const check = () => {
        if (request.signal?.aborted) {
          throw new AbortedError("the model call was aborted", { cause: request.signal.reason });
        }
      };
      check();
      const index = next;
      const step = turns[index];
      if (step === undefined) {
        throw new SystemError(
          "script_exhausted",
          `The scripted model has no answer left: all ${turns.length} turns of its script were used.`,
        );
      }
      next++;
      const turn = typeof step === "function" ? step(request, index) : step;
      if (pace) await sleep(pace.turnMs, request.signal);

      if (turn.reasoning) {
        for (const text of splitWords(turn.reasoning)) {
          check();
          yield { type: "reasoning-delta", text };
        }
      }
      const chunks = turn.textChunks ?? (turn.text ? splitWords(turn.text) : []);
      for (const [i, text] of chunks.entries()) {
        if (pace && i > 0) await sleep(pace.chunkMs, request.signal);
        check();
        yield { type: "text-delta", text };
      }
      const calls = turn.toolCalls ?? [];
      for (const [i, call] of calls.entries()) {
        check();
        const id = call.id ?? `call_${index}_${i}`;
        if (call.argumentsText === undefined) {
          yield { type: "tool-call", id, name: call.name, args: call.arguments ?? {} };
          continue;
        }
        try {
          yield { type: "tool-call", id, name: call.name, args: JSON.parse(call.argumentsText) };
        } catch (error) {
          yield {
            type: "tool-call",
            id,
            name: call.name,
            args: call.argumentsText,
            argsError: `The arguments of this ${call.name} call are not valid JSON (${(error as Error).message}). Raw arguments: ${call.argumentsText}`,
          };
        }
      }
      check();
      const outputChars =
        chunks.join("").length + (turn.reasoning?.length ?? 0) + JSON.stringify(calls).length;
      const usage: Usage = {
        inputTokens: turn.usage?.inputTokens ?? estimateTokens(request),
        outputTokens: turn.usage?.outputTokens ?? Math.ceil(outputChars / 4),
      };
      if (turn.usage?.cachedInputTokens !== undefined) usage.cachedInputTokens = turn.usage.cachedInputTokens;
      yield { type: "usage", usage };
      yield { type: "finish", reason: turn.finishReason ?? (calls.length > 0 ? "tool-calls" : "stop") };
    },
  };
}

/** Waits `ms`; an abort ends the wait at once (the caller's `check` then throws). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

function splitWords(text: string): string[] {
  const chunks = text.match(/\s*\S+\s*/g);
  return chunks && chunks.join("") === text ? chunks : [text];
}

function estimateTokens(request: ModelRequest): number {
  const chars =
    request.system.length + JSON.stringify(request.messages).length + JSON.stringify(request.tools).length;
  return Math.ceil(chars / 4);
}
