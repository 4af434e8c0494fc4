import type { EventData } from "../../core/index.ts";

type Plan = EventData<"plan.proposed">["plan"];

const ITEM = /^\s*(?:(?:step\s+)?\d+[.):]|[-*•]|\[[ x]\])\s+(.*\S)\s*$/i;
const HEADING = /^\s*(?:#+\s*)?(?:the\s+)?(?:plan|steps|proposed plan|my plan)\s*:?\s*$/i;

/** The agent a step of a plan written in prose belongs to, from its words. */
function ownerOf(step: string): "implementer" | "tester" | "refactorer" {
  if (/\b(refactor|clean[\s-]?up|tidy|simplify)/i.test(step)) return "refactorer";
  if (/\b(run|add|write|extend|update)\b.*\btests?\b|\bverify\b|\btest suite\b|^\s*test\b/i.test(step))
    return "tester";
  return "implementer";
}

/**
 * A plan a model wrote in plain text instead of calling the plan tool: numbered or bulleted lines are the
 * steps (owned by the agent their words name, the Implementer otherwise), the prose before them the facts.
 * Text with no list is one step: the text itself. Markdown emphasis is kept as written.
 */
export function planFromText(text: string): Plan {
  const lines = text.split(/\r?\n/);
  const steps: string[] = [];
  const facts: string[] = [];
  for (const line of lines) {
    const item = ITEM.exec(line);
    if (item?.[1]) {
      steps.push(item[1].replace(/^\*\*(.+?)\*\*:?\s*/, "$1: ").trim());
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === "" || HEADING.test(trimmed)) continue;
    // A line that continues the previous step (indented prose under a list item) belongs to it.
    if (steps.length > 0 && /^\s{2,}\S/.test(line)) {
      steps[steps.length - 1] += ` ${trimmed}`;
      continue;
    }
    if (steps.length === 0) facts.push(trimmed);
  }
  const descriptions = steps.length > 0 ? steps : [text.trim()];
  return {
    facts: steps.length > 0 ? facts : [],
    steps: descriptions.map((description, i) => ({
      id: `s${i + 1}`,
      description,
      owner: ownerOf(description),
      status: "pending" as const,
    })),
  };
}
