/**
 * Which way a request goes in the default mode: a question or a read-only request ("list the files",
 * "explain X", "where is Y?") is answered by the Analyzer, with no plan and no edits; anything that asks for
 * a change goes through the whole team. Deterministic and instant (no model call): when in doubt, a change.
 */
export interface Route {
  route: "answer" | "change";
  reason: string;
}

const CHANGE_VERBS = new Set(
  (
    "fix add implement refactor change update remove delete rename create write make convert migrate replace " +
    "improve optimize optimise support upgrade bump build move extract rewrite port introduce drop deprecate " +
    "edit modify patch resolve correct repair clean cleanup format lint generate scaffold setup configure install " +
    "translate split merge inline wire hook enable disable handle use switch increase decrease reduce allow prevent " +
    "ensure document comment type annotate test"
  ).split(" "),
);

const READ_STARTS = new Set(
  (
    "what where which who whom whose why how when is are does do did can could should would will was were has have " +
    "list explain describe show find locate summarize summarise tell give count review analyze analyse compare " +
    "outline overview print display identify search trace walk read look inspect examine view"
  ).split(" "),
);

/** Leading words that soften a request without changing what it asks. */
const POLITE =
  /^(?:(?:please|kindly|hey|hi|ok|okay|so|now|then)[,!.]?\s+|(?:can|could|would|will) you\s+(?:please\s+)?|i (?:want|need|would like|'d like) you to\s+|i (?:want|need) to\s+|help me\s+(?:to\s+)?|let'?s\s+|go ahead and\s+|try to\s+)+/i;

/** Requests that read words like "change" or "test" but only ask to look ("how does the test work?"). */
const QUESTION_WORD = /^(?:what|where|which|who|whom|whose|why|how|when)\b/i;

export function routeRequest(task: string): Route {
  const text = task.trim().replace(/\s+/g, " ");
  const firstLine = text.toLowerCase();
  const stripped = firstLine.replace(POLITE, "");
  const first = /^[a-z']+/.exec(stripped)?.[0] ?? "";
  const quoted = (w: string) => `"${w}"`;
  if (CHANGE_VERBS.has(first)) {
    return { route: "change", reason: `the request asks for a change (${quoted(first)})` };
  }
  const words = stripped.match(/[a-z']+/g) ?? [];
  const changeWord = words.find((w) => CHANGE_VERBS.has(w) && w !== "test" && w !== "use" && w !== "type");
  const isQuestion = text.endsWith("?");
  if (QUESTION_WORD.test(stripped) && isQuestion) {
    return { route: "answer", reason: `the request is a question (${quoted(first)} … ?)` };
  }
  if (READ_STARTS.has(first) && !changeWord) {
    return {
      route: "answer",
      reason: `the request only asks to look (${quoted(first)}), not to change anything`,
    };
  }
  if (changeWord) return { route: "change", reason: `the request asks for a change (${quoted(changeWord)})` };
  return { route: "change", reason: "not clearly a question, so the whole team handles it" };
}
