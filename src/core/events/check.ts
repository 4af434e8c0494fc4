import { z } from "zod";
import { defineEvent } from "./envelope.ts";

/**
 * The repository's setup command (`setupCommand`, e.g. `npm ci`), run by the orchestrator once per workspace
 * before any agent, in the sandbox; with network only when the user allowed it for setup.
 */
export const setupStarted = defineEvent("setup.started", () =>
  z.object({ command: z.string(), network: z.enum(["off", "on"]) }),
);

export const setupEnded = defineEvent("setup.ended", () =>
  z.object({
    command: z.string(),
    exitCode: z.number().int(),
    timedOut: z.boolean(),
    durationMs: z.number().nonnegative(),
    /** The end of the command's output (stdout and stderr interleaved). */
    output: z.string(),
  }),
);

/**
 * The orchestrator runs the project's test command itself at the end of a run that changed code, and the
 * run's outcome is decided from its exit code, never from a model's claim.
 */
export const verificationStarted = defineEvent("verification.started", () =>
  z.object({ command: z.string(), source: z.string() }),
);

export const verificationStatusSchema = z.enum(["passed", "failed", "not_verified"]);
export type VerificationStatus = z.infer<typeof verificationStatusSchema>;

export const verificationEnded = defineEvent("verification.ended", () =>
  z.object({
    status: verificationStatusSchema,
    /** Why, in words a person reads: "npm test exited 0", "no test command was found". */
    reason: z.string(),
    command: z.string().optional(),
    exitCode: z.number().int().optional(),
    timedOut: z.boolean().optional(),
    durationMs: z.number().nonnegative().optional(),
    output: z.string().optional(),
    /** The seq of an agent's run of the same command on the same workspace state, reused instead of re-running. */
    reusedSeq: z.number().int().optional(),
  }),
);
