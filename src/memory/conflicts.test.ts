import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contradicts, duplicates, findConflicts } from "./conflicts.ts";

const lesson = (id: string, text: string) => ({ id, text, provenance: "", line: 1 });

describe("duplicates and contradictions", () => {
  it("finds duplicates by normalised text and by word overlap", () => {
    assert.ok(
      duplicates("Use the jose library for JWT, not pyjwt.", "use the JOSE library for jwt not pyjwt"),
    );
    assert.ok(duplicates("Run the tests with npm test.", "Run tests with npm test"));
    assert.ok(!duplicates("Run the tests with npm test.", "Never run the tests with npm test."));
    assert.ok(!duplicates("Use jose for JWT.", "Use prettier for formatting."));
  });

  it("finds contradictions between use X and do not use X, and use X not Y and use Y", () => {
    assert.ok(contradicts("Use pyjwt for tokens.", "Use the jose library for JWT, not pyjwt."));
    assert.ok(contradicts("Do not use jose.", "Use the jose library for JWT, not pyjwt."));
    assert.ok(contradicts("Never run npm install in the sandbox.", "Run npm install in the sandbox."));
    assert.ok(contradicts("Prefer tabs over spaces.", "Use spaces for indentation."));
    assert.ok(!contradicts("Use jose for JWT.", "Do not commit secrets."));
    assert.ok(!contradicts("Run npm test before finishing.", "Never run npm install."));
  });

  it("reports each saved lesson once", () => {
    const saved = [
      lesson("l_ab12", "Use the jose library for JWT, not pyjwt."),
      lesson("l_cd34", "Write tests first."),
    ];
    assert.deepEqual(
      findConflicts("Use pyjwt.", saved).contradictions.map((l) => l.id),
      ["l_ab12"],
    );
    assert.deepEqual(
      findConflicts("use the jose library for JWT, not pyjwt", saved).duplicates.map((l) => l.id),
      ["l_ab12"],
    );
    assert.deepEqual(findConflicts("Write tests first.", saved, "l_cd34"), {
      duplicates: [],
      contradictions: [],
    });
  });
});
