import { callSignature } from "./conversation.ts";

/**
 * Notices an agent going in circles: the same tool call with the same arguments in three turns running,
 * or `stallTurns` turns with no new call and no change to the workspace. Seeded from the log on resume.
 */
export class LoopDetector {
  private readonly turns: string[][];
  private quietTurns = 0;
  warnings: number;
  readonly stallTurns: number;

  constructor(turns: string[][] = [], warnings = 0, stallTurns = 8) {
    this.turns = [...turns];
    this.warnings = warnings;
    this.stallTurns = stallTurns;
  }

  observe(
    calls: readonly { name: string; args: unknown }[],
    changedWorkspace: boolean,
  ): { kind: "repeated_call" | "no_progress"; detail: string; message: string } | undefined {
    const signatures = calls.map(callSignature);
    const seen = new Set(this.turns.flat());
    const novel = signatures.some((sig) => !seen.has(sig));
    const [prev1, prev2] = [this.turns.at(-1), this.turns.at(-2)];
    this.turns.push(signatures);
    this.quietTurns = novel || changedWorkspace ? 0 : this.quietTurns + 1;
    const repeated = signatures.find((sig) => prev1?.includes(sig) && prev2?.includes(sig));
    if (repeated) {
      this.quietTurns = 0;
      const short = repeated.length > 120 ? `${repeated.slice(0, 117)}…` : repeated;
      return {
        kind: "repeated_call",
        detail: `the same call was made in 3 turns running: ${short}`,
        message: `[Entourage] You have made the same call (${short}) three times in a row with the same result. Do not repeat it: change your approach, or call finish with status "blocked" and say what you need.`,
      };
    }
    if (this.quietTurns >= this.stallTurns) {
      this.quietTurns = 0;
      return {
        kind: "no_progress",
        detail: `${this.stallTurns} turns without a new call or a change to the workspace`,
        message: `[Entourage] Your last ${this.stallTurns} turns repeated earlier calls without changing anything. Make progress with a different approach, or call finish with status "blocked" and say what you need.`,
      };
    }
    return undefined;
  }
}
