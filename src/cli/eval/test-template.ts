/**
 * A task's `test_command` is a shell command template that runs given test ids. Two placeholders:
 *
 * - `{tests}`: the ids, each single-quoted for the shell, separated by spaces:
 *   `python3 -m pytest {tests}` → `python3 -m pytest 'tests/test_a.py::test_x' 'tests/test_a.py::test_y'`
 * - `{tests_regex}`: one single-quoted word `^(id1|id2)$`, regex metacharacters of each id escaped, for
 *   runners that select by pattern: `go test -run {tests_regex} ./...`, `node --test --test-name-pattern={tests_regex}`
 *
 * The command runs with `sh -c` in the sandbox, at the repository's top level; exit 0 means the tests passed.
 */

/** `{tests}`, `{tests_regex}` and near misses like `{test}` (reported); a shell's `${test}` is left alone. */
const PLACEHOLDER = /(?<!\$)\{(tests?(?:_[a-z]+)?)\}/g;
const KNOWN = new Set(["tests", "tests_regex"]);

/** Why `template` is not a usable test command, or undefined when it is. */
export function checkTestTemplate(template: string): string | undefined {
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const unknown = names.filter((n) => !KNOWN.has(n));
  if (unknown.length > 0)
    return `unknown placeholder {${unknown[0]}}: use {tests} (the ids, shell-quoted) or {tests_regex} (one pattern ^(a|b)$)`;
  if (names.length === 0)
    return `"${template}" has no {tests} or {tests_regex} placeholder, so it cannot run given tests`;
  return undefined;
}

/** The shell command that runs exactly `ids`. */
export function expandTestCommand(template: string, ids: readonly string[]): string {
  return template.replace(PLACEHOLDER, (_, name: string) =>
    name === "tests" ? ids.map(shellQuote).join(" ") : shellQuote(`^(${ids.map(escapeRegex).join("|")})$`),
  );
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
