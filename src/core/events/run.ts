import { z } from "zod";
import { FINAL_RUN_STATUSES, ORCHESTRATION_MODES, RUN_STATUSES } from "../vocabulary.ts";
import { defineEvent } from "./envelope.ts";

export const runStatusSchema = z.enum(RUN_STATUSES);

export const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cachedInputTokens: z.number().int().nonnegative().optional(),
  reasoningTokens: z.number().int().nonnegative().optional(),
});
export type Usage = z.infer<typeof usageSchema>;

export const modelRefSchema = z.object({
  provider: z.string(),
  model: z.string(),
  baseUrl: z.string().optional(),
  /** True for the scripted/demo model: never a real LLM, and every view says so. */
  scripted: z.boolean().optional(),
});

export const sandboxRefSchema = z.object({
  backend: z.string(),
  isolated: z.boolean(),
  network: z.enum(["off", "on"]),
  warning: z.string().optional(),
  /** Workspace-relative dependency folders mounted read-only (linked, on subprocess) from the checkout. */
  dependencies: z.array(z.string()).optional(),
  /** The PATH commands get (the user's toolchain, or Entourage's runtime first when chosen). */
  path: z.string().optional(),
  /** Host folders of the toolchain bound read-only. */
  toolchainDirs: z.array(z.string()).optional(),
  /** The container image (docker): recorded so `resume` uses the same one. */
  image: z.string().optional(),
  /** Why that image: asked for, matched the repository's files, or the default. */
  imageReason: z.string().optional(),
});

export const budgetSchema = z.object({
  maxSteps: z.number().int().positive(),
  maxTokens: z.number().int().positive().optional(),
  maxCostUsd: z.number().positive().optional(),
});

/**
 * A custom agent as a run uses it (from `.entourage/agents/*.md`, `~/.entourage/agents/*.md` or a
 * plugin), fixed when the run starts so a resumed run sends exactly the same prompts. One with a
 * built-in's name replaces that built-in for the run.
 */
export const agentSpecSchema = z.object({
  name: z.string(),
  description: z.string(),
  systemPrompt: z.string(),
  /** Tool allow-list: names or globs (`github__*`). */
  tools: z.array(z.string()),
  model: z.string().optional(),
  maxSteps: z.number().int().positive().optional(),
  maxTokens: z.number().int().positive().optional(),
  maxCostUsd: z.number().positive().optional(),
  /** The file or plugin it came from. */
  source: z.string(),
});
export type AgentSpec = z.infer<typeof agentSpecSchema>;

/** Where extra pipeline phases go: after the Analyzer, after the tests pass, after the Refactorer. */
export const pipelineStageSchema = z.enum(["analyze", "test", "refactor"]);
export type PipelineStage = z.infer<typeof pipelineStageSchema>;

export const runCreated = defineEvent("run.created", () =>
  z.object({
    task: z.string(),
    repo: z.string().describe("Absolute path of the user's checkout"),
    workspace: z.string().describe("Absolute path of the run's private copy"),
    mode: z.enum(ORCHESTRATION_MODES),
    model: modelRefSchema,
    sandbox: sandboxRefSchema,
    budget: budgetSchema,
    approval: z.string(),
    /** The project's test command, detected from its files or configured, with where it came from. */
    testCommand: z.object({ command: z.string(), source: z.string() }).optional(),
    /** Whether the orchestrator runs the test command itself at the end (`verify`); absent: yes. */
    verify: z.boolean().optional(),
    /** The setup command run once before the agents (`setupCommand`), and its network access. */
    setup: z.object({ command: z.string(), network: z.enum(["off", "on"]) }).optional(),
    /**
     * What every agent is told about the project after its role prompt (AGENTS.md, lessons), fixed when the
     * run starts so a resumed run sends exactly the same prompts.
     */
    projectContext: z.string().optional(),
    /** Custom agents (files, plugins); a built-in's name replaces the built-in. */
    agents: z.array(agentSpecSchema).optional(),
    /** Extra allow-list entries per agent name: MCP and plugin tools granted to built-in agents. */
    agentTools: z.record(z.string(), z.array(z.string())).optional(),
    /** Pipeline mode: agents run as extra phases, by stage (`pipeline.after` in the config). */
    pipeline: z.object({ after: z.partialRecord(pipelineStageSchema, z.array(z.string())) }).optional(),
    forkedFrom: z.object({ runId: z.string(), seq: z.number().int() }).optional(),
    /** Started by `entourage eval`: the eval's id (its results in ENTOURAGE_HOME/evals/) and the task's id. */
    eval: z.object({ id: z.string(), instanceId: z.string() }).optional(),
    /**
     * Paths of the checkout the workspace copy left out, and why (nested repositories, submodules, special
     * files, paths below a symlinked directory): at most 100, with `leftOutCount` the full number.
     */
    leftOut: z.array(z.object({ path: z.string(), reason: z.string() })).optional(),
    leftOutCount: z.number().int().optional(),
  }),
);

export const runStatus = defineEvent("run.status", () =>
  z.object({ status: runStatusSchema, reason: z.string().optional() }),
);

export const runFinished = defineEvent("run.finished", () =>
  z.object({
    status: z.enum(FINAL_RUN_STATUSES),
    summary: z.string(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
);

/**
 * A process (re)attached to the run: the first start and every `resume`. `tookOverFrom`: the driver whose
 * lease had gone stale (it died, or stopped heartbeating) when this one took the run.
 */
export const runAttached = defineEvent("run.attached", () =>
  z.object({
    pid: z.number().int(),
    resumed: z.boolean(),
    host: z.string().optional(),
    tookOverFrom: z.object({ pid: z.number().int(), host: z.string(), label: z.string() }).optional(),
  }),
);

/**
 * How the orchestrator routes the request (pipeline mode): a question or read-only request is answered by the
 * Analyzer with no plan and no edits; a change goes through the whole team.
 */
export const runRouted = defineEvent("run.routed", () =>
  z.object({ route: z.enum(["answer", "change"]), reason: z.string() }),
);

/** The run continues on another model from here (`resume`/`fork`/`rewind --provider/--model/--base-url`). */
export const modelChanged = defineEvent("model.changed", () =>
  z.object({ from: modelRefSchema, to: modelRefSchema, by: z.string(), reason: z.string() }),
);

/**
 * A finished run (succeeded, failed, cancelled) takes a follow-up request in the same conversation (an editor's
 * next prompt over ACP): the same run, workspace and log go on. It is followed by `run.status` paused; driving
 * the run then runs one follow-up phase (the general agent, told the earlier task and outcome) and ends it again
 * with `diff.ready`, verification and `run.finished`.
 */
export const runReopened = defineEvent("run.reopened", () =>
  z.object({ request: z.string(), by: z.string() }),
);
