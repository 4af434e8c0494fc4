import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { languageOf, parseUnifiedDiff, splitRows } from "./diff.ts";

const DIFF = `diff --git a/src/date.js b/src/date.js
index 1111111..2222222 100644
--- a/src/date.js
+++ b/src/date.js
@@ -1,4 +1,5 @@
 export function formatISODate(date) {
-  return \`\${date.getUTCMonth()}\`;
+  const pad = (n) => String(n).padStart(2, "0");
+  return \`\${pad(date.getUTCMonth() + 1)}\`;
 }
\\ No newline at end of file
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+hello
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
`;

describe("parseUnifiedDiff", () => {
  it("reads files, statuses, hunks and line numbers", () => {
    const files = parseUnifiedDiff(DIFF);
    assert.deepEqual(
      files.map((f) => [f.path, f.status, f.additions, f.deletions]),
      [
        ["src/date.js", "modified", 2, 1],
        ["new.txt", "added", 1, 0],
        ["old.txt", "deleted", 0, 1],
      ],
    );
    const lines = files[0]!.hunks[0]!.lines;
    assert.deepEqual(
      lines.map((l) => [l.kind, l.oldNo, l.newNo]),
      [
        ["context", 1, 1],
        ["del", 2, undefined],
        ["add", undefined, 2],
        ["add", undefined, 3],
        ["context", 3, 4],
        ["note", undefined, undefined],
      ],
    );
  });

  it("pairs deletions with the additions after them for side by side", () => {
    const rows = splitRows(parseUnifiedDiff(DIFF)[0]!.hunks[0]!);
    assert.deepEqual(
      rows.map((r) => [r.left?.kind, r.right?.kind]),
      [
        ["context", "context"],
        ["del", "add"],
        [undefined, "add"],
        ["context", "context"],
        ["note", undefined],
      ],
    );
  });

  it("maps file names to languages", () => {
    assert.equal(languageOf("src/a.tsx"), "typescript");
    assert.equal(languageOf("Dockerfile"), "dockerfile");
    assert.equal(languageOf("README"), undefined);
  });
});
