import { z } from "zod";
import { readPackageText } from "../../core/package-files.ts";
import { defineTool } from "../tool.ts";

export const proposePlanInput = z.object({
  facts: z.array(z.string().min(1)).describe("What is true about the code that the plan relies on"),
  steps: z
    .array(
      z.object({
        description: z.string().min(1).describe("A concrete change or check"),
        owner: z.enum(["implementer", "tester", "refactorer"]).describe("The agent that does it"),
      }),
    )
    .min(1)
    .describe("The steps, in order"),
});

/** The agent loop intercepts `propose_plan` like `finish`: the plan goes into `plan.proposed`. */
export const proposePlanTool = defineTool({
  name: "propose_plan",
  description: readPackageText("tools/builtin/propose-plan.md"),
  input: proposePlanInput,
  risk: "read",
  protocol: "plan",
  async execute() {
    return { output: "Plan received." };
  },
});
