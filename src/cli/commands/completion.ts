import type { Command, Option } from "commander";
import { UserError } from "../../core/errors.ts";
import { reportError } from "../terminal/exit.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** A command of the tree, as completion needs it: its path of names, options and whether it takes a run id. */
interface Node {
  path: string[];
  description: string;
  options: { flags: string[]; description: string; choices?: readonly string[]; takesValue: boolean }[];
  children: Node[];
  runId: boolean;
  /** The values of its positional arguments that have a fixed set (e.g. completion's shell). */
  values: string[];
}

function nodeOf(command: Command, path: string[]): Node {
  const visible = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  return {
    path,
    description: command.description(),
    options: command.options
      .filter((o: Option) => !o.hidden)
      .map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
        description: o.description,
        choices: o.argChoices,
        takesValue: o.required || o.optional,
      })),
    children: visible.map((c) => nodeOf(c, [...path, c.name()])),
    runId: command.registeredArguments.some((a) => a.name() === "run-id"),
    values: command.registeredArguments.flatMap((a) => a.argChoices ?? []),
  };
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.children) walk(child, visit);
}

const words = (list: readonly string[]) => list.join(" ");
const sq = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** Run ids for the shell to offer where a command takes <run-id> (the newest 50; nothing when there is no store). */
const RUN_IDS =
  'entourage runs --limit 50 --json 2>/dev/null | grep -o \'"runId": *"[^"]*"\' | cut -d\'"\' -f4';

function bash(root: Node): string {
  const cases: string[] = [];
  walk(root, (n) => {
    const key = n.path.join(" ") || "entourage";
    const flags = n.options.flatMap((o) => o.flags);
    const values = n.options
      .filter((o) => o.choices)
      .map(
        (o) =>
          `${o.flags.join("|")}) COMPREPLY=($(compgen -W ${sq(words(o.choices!))} -- "$cur")); return ;;`,
      );
    cases.push(
      `    ${sq(key)})\n      case "$prev" in\n${values.map((v) => `        ${v}`).join("\n")}${values.length ? "\n" : ""}      esac\n` +
        `      words=${sq(words([...n.children.map((c) => c.path.at(-1)!), ...n.values, ...flags]))}` +
        `${n.runId ? `\n      [[ "$cur" != -* ]] && words="$words $(${RUN_IDS})"` : ""} ;;`,
    );
  });
  return `# entourage completion for bash: source <(entourage completion bash), or save it under
# ~/.local/share/bash-completion/completions/entourage
_entourage() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" key="" words="" i w
  # The command path typed so far: the words before the cursor that name (sub)commands.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${key:+$key }$w" in
${walkPaths(root)
  .map((p) => `      ${sq(p)}) key="${p}" ;;`)
  .join("\n")}
    esac
  done
  case "\${key:-entourage}" in
${cases.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _entourage entourage
`;
}

function walkPaths(root: Node): string[] {
  const paths: string[] = [];
  walk(root, (n) => {
    if (n.path.length > 0) paths.push(n.path.join(" "));
  });
  return paths;
}

function zsh(root: Node): string {
  const fns: string[] = [];
  const fnName = (n: Node) => `_entourage${n.path.map((p) => `_${p.replaceAll("-", "_")}`).join("")}`;
  walk(root, (n) => {
    const opts = n.options.map((o) => {
      const desc = o.description
        .replaceAll("[", "(")
        .replaceAll("]", ")")
        .replaceAll("'", "")
        .replaceAll(":", " -");
      const value = o.takesValue ? `:value:${o.choices ? `(${words(o.choices)})` : ""}` : "";
      const spec = o.flags.length > 1 ? `{${o.flags.join(",")}}` : o.flags[0];
      return `    ${o.flags.length > 1 ? `'(${o.flags.join(" ")})'` : ""}${spec}'[${desc}]${value}'`;
    });
    const subs = n.children.map(
      (c) => `      ${sq(`${c.path.at(-1)}:${c.description.replaceAll(":", " -")}`)}`,
    );
    const body =
      n.children.length > 0
        ? `  local -a subcommands=(\n${subs.join("\n")}\n  )\n  _arguments -C \\\n${opts.map((o) => `${o} \\`).join("\n")}${opts.length ? "\n" : ""}    '1: :->command' '*:: :->args'\n  case $state in\n    command) _describe command subcommands ;;\n    args) case $words[1] in\n${n.children.map((c) => `      ${c.path.at(-1)}) ${fnName(c)} ;;`).join("\n")}\n    esac ;;\n  esac`
        : `  _arguments \\\n${opts.map((o) => `${o} \\`).join("\n")}${opts.length ? "\n" : ""}    ${n.runId ? `'*:run:(\${(f)"$(${RUN_IDS})"})'` : n.values.length ? `'1:value:(${words(n.values)})'` : "'*::file:_files'"}`;
    fns.push(`${fnName(n)}() {\n${body}\n}`);
  });
  return `#compdef entourage
# entourage completion for zsh: entourage completion zsh > "\${fpath[1]}/_entourage" (then restart zsh),
# or source <(entourage completion zsh) after compinit
${fns.join("\n\n")}

if [ "$funcstack[1]" = "_entourage" ]; then _entourage "$@"; else compdef _entourage entourage; fi
`;
}

function fish(root: Node): string {
  const lines = [
    "# entourage completion for fish: entourage completion fish > ~/.config/fish/completions/entourage.fish",
    "complete -c entourage -f",
  ];
  walk(root, (n) => {
    const seen =
      n.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${n.path.at(-1)}`;
    for (const c of n.children)
      lines.push(`complete -c entourage -n ${sq(seen)} -a ${sq(c.path.at(-1)!)} -d ${sq(c.description)}`);
    for (const o of n.options) {
      const flag = o.flags
        .map((f) => (f.startsWith("--") ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`))
        .join(" ");
      const value = o.takesValue ? (o.choices ? ` -x -a ${sq(words(o.choices))}` : " -r") : "";
      lines.push(`complete -c entourage -n ${sq(seen)} ${flag}${value} -d ${sq(o.description)}`);
    }
    if (n.runId) lines.push(`complete -c entourage -n ${sq(seen)} -a ${sq(`(${RUN_IDS})`)}`);
    if (n.values.length) lines.push(`complete -c entourage -n ${sq(seen)} -a ${sq(words(n.values))}`);
  });
  return `${lines.join("\n")}\n`;
}

/** `entourage completion bash|zsh|fish`: the shell's completion script, from the commands as they are. */
export function completionCommand(program: Command, shell: string): number {
  try {
    if (!(SHELLS as readonly string[]).includes(shell))
      throw new UserError(
        "unknown_shell",
        `No completion for "${shell}": choose one of ${SHELLS.join(", ")}.`,
      );
    const root = nodeOf(program, []);
    const script = shell === "bash" ? bash(root) : shell === "zsh" ? zsh(root) : fish(root);
    process.stdout.write(script);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}
