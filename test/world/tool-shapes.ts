import type { JsonSchema, OfferedTool } from "./conversation.ts";

/**
 * Guesses what an offered tool does the way a small model does: from the words in its name and the names
 * and types of its parameters. No tool name of any particular program is known here; the word lists are
 * the verbs and nouns coding tools commonly use (`cat_file`, `str_replace`, `bash`, `view`, `submit`…).
 */
export type ToolKind =
  | "read"
  | "list"
  | "grep"
  | "edit"
  | "write"
  | "command"
  | "report"
  | "plan"
  | "classify";

/** The parameter playing each role, by its name in the schema. */
export interface ParamRoles {
  path?: string;
  old?: string;
  new?: string;
  content?: string;
  command?: string;
  pattern?: string;
  status?: string;
  summary?: string;
  steps?: string;
  files?: string;
  passed?: string;
  choice?: string;
}

export interface ToolShape {
  tool: OfferedTool;
  kind: ToolKind | undefined;
  roles: ParamRoles;
}

const WORDS = {
  command: ["run", "exec", "execute", "bash", "shell", "terminal", "command", "cmd", "sh"],
  report: ["finish", "done", "complete", "report", "submit", "end", "final", "conclude", "answer", "result"],
  plan: ["plan", "planning", "propose", "steps", "todo", "todos"],
  classify: ["classify", "classification", "triage", "categorize", "category", "label"],
  grep: ["grep", "search", "rg", "ripgrep", "query", "find"],
  list: ["list", "ls", "glob", "tree", "dir", "directory", "files", "browse"],
  read: ["read", "view", "cat", "open", "get", "show", "load", "file"],
};

/** Lower-case words of an identifier: `str_replace` → [str, replace], `readFile` → [read, file]. */
export function wordsOf(identifier: string): string[] {
  return identifier
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const has = (words: string[], list: string[]) => words.some((w) => list.includes(w));

function typeOf(schema: JsonSchema | undefined): string | undefined {
  if (!schema) return undefined;
  if (typeof schema.type === "string") return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt) return alt.map(typeOf).find((t) => t && t !== "null");
  if (schema.enum) return "string";
  return undefined;
}

function rolesOf(parameters: JsonSchema): ParamRoles {
  const roles: ParamRoles = {};
  const props = parameters.properties ?? {};
  const set = (role: keyof ParamRoles, name: string) => {
    if (roles[role] === undefined) roles[role] = name;
  };
  for (const [name, schema] of Object.entries(props)) {
    const words = wordsOf(name);
    const type = typeOf(schema);
    if (type === "string") {
      if (has(words, ["command", "cmd", "script", "commandline"])) set("command", name);
      else if (has(words, ["old", "original", "before", "search", "find", "from"])) set("old", name);
      else if (has(words, ["new", "replacement", "replace", "after", "with"])) set("new", name);
      else if (
        has(words, ["path", "file", "filename", "filepath", "target"]) &&
        !has(words, ["pattern", "glob"])
      )
        set("path", name);
      else if (has(words, ["content", "contents", "code", "body", "data"])) set("content", name);
      else if (has(words, ["pattern", "query", "regex", "regexp", "term", "needle", "q"]))
        set("pattern", name);
      if (has(words, ["status", "outcome", "state", "verdict"])) set("status", name);
      else if (
        has(words, [
          "summary",
          "message",
          "report",
          "description",
          "details",
          "explanation",
          "reason",
          "text",
        ])
      )
        set("summary", name);
      if (schema.enum && has(words, ["kind", "type", "category", "class", "label", "classification"]))
        set("choice", name);
    } else if (type === "array") {
      if (has(words, ["steps", "plan", "tasks", "todos", "items", "actions"])) set("steps", name);
      else if (has(words, ["files", "paths", "changed", "modified"])) set("files", name);
    } else if (type === "boolean") {
      if (has(words, ["passed", "pass", "passing", "success", "succeeded", "green", "ok"]))
        set("passed", name);
    }
  }
  // A text parameter of a writing tool is its content when nothing else claimed it (e.g. `file_text`).
  if (roles.path && roles.content === undefined && roles.old === undefined) {
    const text = Object.keys(props).find(
      (n) => n !== roles.path && typeOf(props[n]) === "string" && has(wordsOf(n), ["text"]),
    );
    if (text) roles.content = text;
  }
  return roles;
}

/** Classifies one offered tool. */
export function shapeOf(tool: OfferedTool): ToolShape {
  const words = wordsOf(tool.name);
  const roles = rolesOf(tool.parameters);
  const kind = ((): ToolKind | undefined => {
    if (roles.command && (has(words, WORDS.command) || !roles.path)) return "command";
    if (roles.path && roles.old && roles.new) return "edit";
    if (roles.path && roles.content && !roles.old) return "write";
    if (roles.steps || (has(words, WORDS.plan) && !roles.path)) return "plan";
    if (has(words, WORDS.classify) && roles.choice) return "classify";
    if (!roles.path && !roles.command && (has(words, WORDS.report) || (roles.status && roles.summary)))
      return "report";
    if (has(words, ["glob", "ls", "list", "tree", "dir", "directory", "browse"])) return "list";
    if (roles.pattern && has(words, WORDS.grep)) return "grep";
    if (roles.path && has(words, WORDS.read)) return "read";
    if (has(words, WORDS.list) && !roles.pattern) return "list";
    return undefined;
  })();
  return { tool, kind, roles };
}

/** The first offered tool of a kind. */
export function toolOfKind(shapes: ToolShape[], kind: ToolKind): ToolShape | undefined {
  return shapes.find((s) => s.kind === kind);
}

/** A value of the schema's type for a required parameter nobody gave a role (what a model makes up). */
export function filler(schema: JsonSchema | undefined, text: string): unknown {
  const type = typeOf(schema);
  if (schema?.enum && schema.enum.length > 0) return schema.enum[0];
  if (type === "boolean") return true;
  if (type === "integer" || type === "number")
    return typeof schema?.minimum === "number" ? schema.minimum : 1;
  if (type === "array") return [];
  if (type === "object") return objectFor(schema ?? {}, text);
  return text;
}

/** An object for a schema: every required property, strings set to `text`, enums to the value `text` suggests. */
export function objectFor(schema: JsonSchema, text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = schema.properties ?? {};
  for (const name of schema.required ?? Object.keys(props)) {
    const prop = props[name];
    if (prop?.enum && prop.enum.length > 0) out[name] = enumFor(prop.enum, text);
    else out[name] = filler(prop, text);
  }
  return out;
}

/** The enum value whose stem the text mentions (`Run the tests` → `tester`), else the first. */
export function enumFor(values: unknown[], text: string): unknown {
  const lower = text.toLowerCase();
  const hit = values.find(
    (v) => typeof v === "string" && v.length >= 4 && lower.includes(v.slice(0, 4).toLowerCase()),
  );
  return hit ?? values[0];
}

/** The enum value that says success (or failure), for a status parameter. */
export function statusFor(schema: JsonSchema | undefined, ok: boolean): unknown {
  const good = [
    "done",
    "success",
    "succeeded",
    "complete",
    "completed",
    "ok",
    "pass",
    "passed",
    "fixed",
    "resolved",
  ];
  const bad = ["failed", "failure", "fail", "error", "blocked", "partial", "incomplete"];
  const values = schema?.enum;
  if (!values || values.length === 0) return ok ? "done" : "failed";
  const wanted = ok ? good : bad;
  for (const word of wanted) {
    const hit = values.find((v) => typeof v === "string" && v.toLowerCase() === word);
    if (hit !== undefined) return hit;
  }
  return values[ok ? 0 : values.length - 1];
}
