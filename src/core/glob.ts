/**
 * The one glob of Entourage's own rules — approval rules (`run_command "npm test*"`) and agents' tool
 * allow-lists (`github__*`) — on picomatch, in bash mode: `*` is any run of characters, slashes included
 * (a rule's text is a command line, not a path), `?` is one character, `[abc]` and `{a,b}` work as in a
 * shell; anchored and case-sensitive. Paths in the workspace use tinyglobby (src/workspace/glob.ts).
 */
import picomatch from "picomatch/posix.js";

const compiled = new Map<string, (text: string) => boolean>();

export function globMatch(pattern: string, text: string): boolean {
  let match = compiled.get(pattern);
  if (!match) {
    match = picomatch(pattern, { bash: true, dot: true, nonegate: true });
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, match);
  }
  return match(text);
}
