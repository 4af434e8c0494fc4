import type { Conversation, SeenCall } from "./conversation.ts";
import {
  enumFor,
  filler,
  objectFor,
  shapeOf,
  statusFor,
  type ToolKind,
  type ToolShape,
  toolOfKind,
} from "./tool-shapes.ts";

/**
 * The "brain" of the persona server: from one request (what a model sees) and a recipe (what is wrong in
 * the repository), the next move a plausible small coding model makes. It is a pure function of the
 * conversation, so several agents can talk to one server at once and a replayed request gets the same
 * answer. It knows no program's protocol: what the agent can do is read from the tools offered.
 */

/** The bug of a repository, as the persona server needs it. */
export interface Recipe {
  /** Repository-relative path of the file with the bug, e.g. `src/range.js`. */
  file: string;
  /** Text in that file that is wrong (exactly as in the file). */
  wrong: string;
  /** The text that fixes it. */
  right: string;
  /** A plausible change that does not fix the bug (the `wrongFix` persona); default: `wrong` plus a space. */
  decoy?: string;
  /** What kind of task this is (e.g. `bugfix`), for a classify tool or a classification question. */
  classification?: string;
}

/** How the model misbehaves. Combinable; all off is a well-behaved small model. */
export interface Persona {
  /** Never calls a plan tool; writes the plan as a numbered list in plain text. */
  planInText?: boolean;
  /** Never calls a report/finish tool; ends with plain text ("Done. I fixed …"). */
  forgetFinish?: boolean;
  /** Claims the tests pass whatever their output said. */
  falseSuccess?: boolean;
  /** Never runs the test command (with falseSuccess: claims success without running anything). */
  skipTests?: boolean;
  /** Uses absolute paths: the root is taken from paths in the prompt or from `pwd`. */
  absolutePaths?: boolean;
  /** Sends the edit's old text with different spacing first (and the exact text after an error). */
  sloppyWhitespace?: boolean;
  /** Makes each tool call (other than report and plan) this many times in a row. */
  repeat?: number;
  /** One read (or list) call, then a text answer. */
  oneCallThenDone?: boolean;
  /** Edits to the recipe's decoy, which does not fix the bug. */
  wrongFix?: boolean;
  /** Never calls a tool. */
  textOnly?: boolean;
}

export type Action =
  | {
      type: "tool";
      kind: ToolKind;
      tool: string;
      args: Record<string, unknown>;
      text: string;
      reason: string;
    }
  | { type: "text"; text: string; reason: string };

const MANIFESTS = [
  "package.json",
  "pyproject.toml",
  "setup.cfg",
  "pytest.ini",
  "setup.py",
  "go.mod",
  "Cargo.toml",
];
const RUNNERS =
  /^(npm|npx|pnpm|yarn|bun|node|deno|pytest|python3?|uv|poetry|tox|go|cargo|make|mocha|vitest|jest|bash|sh)\b|^\.\/\S/;

/** Strips `cat -n`-style line numbers that read tools put in front of lines. */
export function stripLineNumbers(text: string): string {
  const lines = text.split("\n");
  const numbered = lines.filter((l) => /^\s*\d+(\u2192|\t|: |\| )/.test(l)).length;
  if (numbered < Math.max(1, lines.length / 2)) return text;
  return lines.map((l) => l.replace(/^\s*\d+(\u2192|\t|: |\| )/, "")).join("\n");
}

/** Whether test output reads as a pass, the way a model reads it: exit code first, then failure markers. */
export function readsAsPassing(text: string, isError: boolean): boolean {
  if (isError) return false;
  const exit = /exit(?:ed)?(?: with)?(?: code| status)?[:= ]+(-?\d+)/i.exec(text);
  if (exit && Number(exit[1]) !== 0) return false;
  return !/\b[1-9]\d* (failed|failing|errors?)\b|\bFAIL\b|test result: FAILED|panicked at|Traceback|AssertionError/.test(
    text,
  );
}

/** Different spacing for the same text: collapses runs of spaces, or doubles the first one. */
export function sloppy(text: string): string {
  if (/ {2,}/.test(text)) return text.replace(/ {2,}/g, " ");
  if (text.includes(" ")) return text.replace(" ", "  ");
  return ` ${text}`;
}

function looksFailed(call: SeenCall): boolean {
  if (!call.result) return false;
  if (call.result.isError) return true;
  const head = call.result.text.split("\n")[0] ?? "";
  return /\b(error|no match|not found|failed|could not|cannot|did not match|refused|invalid|is absolute|outside|no such|does not exist|denied|not allowed)\b/i.test(
    head,
  );
}

function fixIsIn(content: string, recipe: Recipe): boolean {
  return (
    content.includes(recipe.right) && (!content.includes(recipe.wrong) || recipe.right.includes(recipe.wrong))
  );
}

/** Paths mentioned in prose; a root is the part before the recipe's file, or a path called a root. */
function rootFromText(texts: string[], file: string): string | undefined {
  const all = texts.join("\n");
  for (const m of all.matchAll(/(?<![\w.])(\/(?:[\w.@+-]+\/)*[\w.@+-]+)/g)) {
    const p = m[1]!.replace(/[.,;:]+$/, "");
    if (p.endsWith(`/${file}`) && p.length > file.length + 2) return p.slice(0, -file.length - 1);
  }
  const labelled =
    /\b(root|workspace|repository|repo|project|directory|cwd|working)\b[^/\n]{0,40}?(?<![\w.])(\/[A-Za-z][\w.@+-]*(?:\/[\w.@+-]+)*)/i.exec(
      all,
    );
  const path = labelled?.[2]?.replace(/[.,;:]+$/, "");
  return path && path.length > 1 ? path : undefined;
}

function backtickedTestCommand(texts: string[]): string | undefined {
  for (const text of [...texts].reverse()) {
    const spans = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!.trim()).filter((s) => RUNNERS.test(s));
    const testy = spans.find((s) => /\b(test|tests|pytest|spec|check|mocha|vitest|jest)\b/.test(s));
    if (testy) return testy;
  }
  return undefined;
}

function testCommandFromManifest(name: string, content: string): string | undefined {
  if (name === "package.json") {
    try {
      const pkg = JSON.parse(content) as { scripts?: Record<string, string> };
      return pkg.scripts?.test ? "npm test" : undefined;
    } catch {
      return undefined;
    }
  }
  if (name === "go.mod") return "go test ./...";
  if (name === "Cargo.toml") return "cargo test";
  return "python3 -m pytest";
}

/** The next move. */
export function decide(c: Conversation, recipe: Recipe, persona: Persona): Action {
  const shapes = c.tools.map(shapeOf);
  const shapeByName = new Map(shapes.map((s) => [s.tool.name, s]));
  const kindOf = (call: SeenCall) =>
    shapeByName.get(call.name)?.kind ?? shapeOf({ name: call.name, description: "", parameters: {} }).kind;
  const prompts = [c.system, ...c.userTexts];
  const read = toolOfKind(shapes, "read");
  const list = toolOfKind(shapes, "list");
  const edit = toolOfKind(shapes, "edit");
  const write = toolOfKind(shapes, "write");
  const command = toolOfKind(shapes, "command");
  const report = toolOfKind(shapes, "report");
  const plan = toolOfKind(shapes, "plan");
  const classify = toolOfKind(shapes, "classify");

  const commandOf = (call: SeenCall) => {
    const role = shapeByName.get(call.name)?.roles.command ?? "command";
    const value = call.args[role];
    return typeof value === "string" ? value : "";
  };
  const pathOf = (call: SeenCall): string | undefined => {
    const role = shapeByName.get(call.name)?.roles.path ?? "path";
    const value = call.args[role];
    if (typeof value === "string") return value;
    const cat = /^cat\s+(\S+)$/.exec(commandOf(call));
    return cat?.[1];
  };
  const isPwd = (call: SeenCall) => kindOf(call) === "command" && commandOf(call).trim() === "pwd";
  const pwdCall = c.calls.find(isPwd);
  const pwdRoot = pwdCall?.result?.text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /^\/\S*$/.test(l));
  const root = rootFromText(prompts, recipe.file) ?? pwdRoot;
  const samePath = (p: string | undefined, rel: string) =>
    p !== undefined && (p.replace(/^\.\//, "") === rel || p.endsWith(`/${rel}`));
  const isReadOf = (call: SeenCall, rel: string) =>
    (kindOf(call) === "read" || (kindOf(call) === "command" && /^cat\s/.test(commandOf(call)))) &&
    samePath(pathOf(call), rel);

  // What the model has seen so far.
  const listed = c.calls.filter(
    (call) => kindOf(call) === "list" || (kindOf(call) === "command" && /^ls\b/.test(commandOf(call))),
  );
  const listing = listed.map((call) => call.result?.text ?? "").join("\n");
  const reads = c.calls.filter((call) => isReadOf(call, recipe.file));
  const lastGoodRead = reads.filter((call) => call.result && !looksFailed(call)).pop();
  const edits = c.calls.filter(
    (call) => (kindOf(call) === "edit" || kindOf(call) === "write") && samePath(pathOf(call), recipe.file),
  );
  const goodEdits = edits.filter((call) => call.result && !looksFailed(call));
  const lastEditTurn = goodEdits.at(-1)?.turn ?? -1;
  const content = lastGoodRead?.result ? stripLineNumbers(lastGoodRead.result.text) : undefined;
  const fixedByRead = content !== undefined && lastGoodRead!.turn > lastEditTurn && fixIsIn(content, recipe);
  const believedFixed = goodEdits.length > 0 || fixedByRead;

  const manifestIn = (text: string) =>
    MANIFESTS.find((m) =>
      new RegExp(`(^|[\\s"'\`])(\\./)?${m.replace(".", "\\.")}($|[\\s"'\`,])`, "m").test(text),
    );
  const manifest = manifestIn(listing);
  const manifestRead = manifest ? c.calls.find((call) => isReadOf(call, manifest) && call.result) : undefined;
  const testCommand =
    backtickedTestCommand(prompts) ??
    (manifest && manifestRead?.result
      ? testCommandFromManifest(manifest, stripLineNumbers(manifestRead.result.text))
      : undefined);
  const testRuns = c.calls.filter(
    (call) =>
      kindOf(call) === "command" && testCommand !== undefined && commandOf(call).includes(testCommand),
  );
  const lastTest = testRuns.filter((call) => call.turn > lastEditTurn && call.result).pop();
  const testsPassed = lastTest?.result
    ? readsAsPassing(lastTest.result.text, lastTest.result.isError)
    : undefined;

  // Told that paths must be relative, even a model that prefers absolute ones follows the message.
  const toldRelative = c.calls.some(
    (call) =>
      looksFailed(call) && /\babsolute\b/i.test(call.result!.text) && /\brelative\b/i.test(call.result!.text),
  );
  const wantAbsolute = (shape: ToolShape) =>
    (persona.absolutePaths === true && !toldRelative) ||
    /\babsolute\b/i.test(
      String(shape.tool.parameters.properties?.[shape.roles.path ?? ""]?.description ?? ""),
    );
  const pathFor = (shape: ToolShape, rel: string) =>
    wantAbsolute(shape) ? `${root ?? "/workspace"}/${rel}` : rel;
  const newText = persona.wrongFix ? (recipe.decoy ?? `${recipe.wrong} `) : recipe.right;

  const call = (shape: ToolShape, known: Record<string, unknown>, reason: string, text = ""): Action => {
    const args: Record<string, unknown> = { ...known };
    const props = shape.tool.parameters.properties ?? {};
    for (const name of shape.tool.parameters.required ?? []) {
      if (!(name in args)) args[name] = filler(props[name], reason);
    }
    return { type: "tool", kind: shape.kind!, tool: shape.tool.name, args, text, reason };
  };
  const runCommand = (cmd: string, reason: string, text = "") =>
    call(command!, { [command!.roles.command!]: cmd }, reason, text);
  const readFile = (rel: string, reason: string): Action =>
    read
      ? call(read, { [read.roles.path ?? "path"]: pathFor(read, rel) }, reason, `Let me read ${rel}.`)
      : runCommand(
          `cat ${persona.absolutePaths && !toldRelative ? `${root ?? "/workspace"}/${rel}` : rel}`,
          reason,
        );

  const fixSentence = `In ${recipe.file}, \`${recipe.wrong}\` should be \`${recipe.right}\`.`;
  const planLines = [
    `Change \`${recipe.wrong}\` to \`${recipe.right}\` in ${recipe.file}.`,
    `Run the tests${testCommand ? ` with \`${testCommand}\`` : ""} to check the fix.`,
  ];
  const planText = `Here is my plan:\n${planLines.map((l, i) => `${i + 1}. ${l}`).join("\n")}\n3. Report the result.`;

  // ---- personas that never (or hardly) use tools
  if (persona.textOnly) {
    if (plan || /\bplan\b/i.test(c.system))
      return { type: "text", text: planText, reason: "textOnly: plan as text" };
    return { type: "text", text: `${fixSentence} Then run the tests.`, reason: "textOnly" };
  }

  // ---- the same call again, as a stuck model does
  const last = c.calls.at(-1);
  if ((persona.repeat ?? 1) > 1 && last && kindOf(last) !== "report" && kindOf(last) !== "plan") {
    let run = 0;
    for (let i = c.calls.length - 1; i >= 0; i--) {
      const other = c.calls[i]!;
      if (other.name !== last.name || JSON.stringify(other.args) !== JSON.stringify(last.args)) break;
      run++;
    }
    const shape = shapeByName.get(last.name);
    if (run < persona.repeat! && shape)
      return {
        type: "tool",
        kind: shape.kind!,
        tool: last.name,
        args: last.args,
        text: "",
        reason: `repeat ${run + 1}`,
      };
  }

  // ---- a classification asked for
  if (recipe.classification) {
    if (classify && !c.calls.some((call) => kindOf(call) === "classify")) {
      const choice = classify.roles.choice!;
      const values = classify.tool.parameters.properties?.[choice]?.enum ?? [recipe.classification];
      return call(classify, { [choice]: enumFor(values, recipe.classification) }, "classify the task");
    }
    if (
      c.tools.length === 0 &&
      /classif|categor|triage/i.test([c.system, c.userTexts.at(-1) ?? ""].join("\n"))
    )
      return { type: "text", text: recipe.classification, reason: "classification asked in text" };
  }

  if (persona.oneCallThenDone) {
    if (c.calls.length === 0 && (read || command)) return readFile(recipe.file, "oneCallThenDone: one read");
    if (c.calls.length === 0 && list) return call(list, {}, "oneCallThenDone: one list");
    return { type: "text", text: `I looked at the code. ${fixSentence}`, reason: "oneCallThenDone: answer" };
  }

  // ---- explore
  if (persona.absolutePaths && root === undefined && command && !pwdCall)
    return runCommand("pwd", "absolutePaths: find the root", "Where am I?");
  if (list && listed.length === 0) return call(list, {}, "list the files", "Let me look at the project.");
  if (!list && command && listed.length === 0) return runCommand("ls -a", "list the files with a command");
  if (!lastGoodRead && reads.length < 3 && (read || command)) return readFile(recipe.file, "read the file");
  const needTestCommand = command && !persona.skipTests && testCommand === undefined;
  if (needTestCommand && manifest && !manifestRead && (read || command))
    return readFile(manifest, "find the test command");

  // ---- plan
  const plannedByTool = c.calls.some((call) => kindOf(call) === "plan");
  const plannedInText = c.assistantTexts.some((t) => /^\s*1\.\s/m.test(t));
  if (plan && !plannedByTool && !plannedInText) {
    if (persona.planInText) return { type: "text", text: planText, reason: "planInText: plan as text" };
    const stepsRole = plan.roles.steps;
    const props = plan.tool.parameters.properties ?? {};
    const itemSchema = stepsRole ? props[stepsRole]?.items : undefined;
    const steps = planLines.map((line) =>
      itemSchema && (itemSchema.type === "object" || itemSchema.properties)
        ? objectFor(itemSchema, line)
        : line,
    );
    const known: Record<string, unknown> = stepsRole ? { [stepsRole]: steps } : {};
    for (const name of plan.tool.parameters.required ?? []) {
      if (name in known) continue;
      const prop = props[name];
      if (prop?.type === "array") known[name] = [`${recipe.file} contains \`${recipe.wrong}\``];
    }
    return call(plan, known, "propose the plan", "I have a plan.");
  }

  // ---- change (an agent with a plan tool has planned by now)
  const canChange = edit !== undefined || write !== undefined;
  if (canChange && !believedFixed && edits.length < 3) return change();

  // ---- verify (a planning agent that cannot change code leaves that to others)
  if (command && !persona.skipTests && testCommand && !lastTest && (canChange || !plan))
    return runCommand(testCommand, "run the tests", "Now the tests.");

  // ---- report
  return finishUp();

  function change(): Action {
    const lastFailed = edits.at(-1) && looksFailed(edits.at(-1)!);
    const oldText = persona.sloppyWhitespace && !lastFailed ? sloppy(recipe.wrong) : recipe.wrong;
    if (edit) {
      return call(
        edit,
        {
          [edit.roles.path!]: pathFor(edit, recipe.file),
          [edit.roles.old!]: oldText,
          [edit.roles.new!]: newText,
        },
        persona.wrongFix ? "wrongFix: edit to the decoy" : "fix the bug",
        "I'll fix it.",
      );
    }
    const base = content ?? "";
    return call(
      write!,
      {
        [write!.roles.path!]: pathFor(write!, recipe.file),
        [write!.roles.content!]: base.replace(recipe.wrong, newText),
      },
      "rewrite the file with the fix",
      "I'll fix it.",
    );
  }

  function finishUp(): Action {
    const changed = goodEdits.length > 0;
    const ranTests = testsPassed !== undefined;
    const ok = persona.falseSuccess ? true : ranTests ? testsPassed : edit || write ? believedFixed : true;
    const parts: string[] = [];
    if (changed) parts.push(`Changed \`${recipe.wrong}\` to \`${newText}\` in ${recipe.file}.`);
    else if (fixedByRead) parts.push(`${recipe.file} already has the fix (\`${recipe.right}\`).`);
    else parts.push(`The bug is in ${recipe.file}: \`${recipe.wrong}\` should be \`${recipe.right}\`.`);
    if (persona.falseSuccess) parts.push("All tests pass.");
    else if (ranTests && testsPassed) parts.push(`The tests pass (\`${testCommand}\`).`);
    else if (ranTests) {
      const tail = lastTest!.result!.text.trim().split("\n").slice(-8).join("\n");
      parts.push(`The tests fail (\`${testCommand}\`):\n${tail}`);
    }
    const summary = parts.join(" ");
    const reports = c.calls.filter((x) => kindOf(x) === "report");
    const lastReport = reports.at(-1);
    const reportAgain = lastReport ? looksFailed(lastReport) && reports.length < 2 : true;
    if (report && !persona.forgetFinish && reportAgain) {
      const r = report.roles;
      const props = report.tool.parameters.properties ?? {};
      const known: Record<string, unknown> = {};
      if (r.status) known[r.status] = statusFor(props[r.status], ok);
      if (r.summary) known[r.summary] = summary;
      if (r.files) known[r.files] = changed ? [recipe.file] : [];
      if (r.passed && (ranTests || persona.falseSuccess))
        known[r.passed] = persona.falseSuccess ? true : testsPassed;
      return call(report, known, "report", "");
    }
    const text = persona.forgetFinish && changed ? `Done. I fixed ${recipe.file}. ${summary}` : summary;
    return {
      type: "text",
      text,
      reason: persona.forgetFinish ? "forgetFinish: text instead of report" : "final answer",
    };
  }
}
