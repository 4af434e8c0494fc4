import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planFromText } from "./plan-text.ts";

describe("planFromText", () => {
  it("takes numbered lines as steps and the prose before them as facts", () => {
    const plan = planFromText(
      "The bug is in `subtract` in src/math.js: it adds instead of subtracting.\n\nPlan:\n1. Change `a + b` to `a - b` in src/math.js.\n2. Run the test suite with `npm test` to verify.\n3. Clean up the comment above the function.",
    );
    assert.deepEqual(plan.facts, [
      "The bug is in `subtract` in src/math.js: it adds instead of subtracting.",
    ]);
    assert.deepEqual(
      plan.steps.map((s) => [s.description, s.owner]),
      [
        ["Change `a + b` to `a - b` in src/math.js.", "implementer"],
        ["Run the test suite with `npm test` to verify.", "tester"],
        ["Clean up the comment above the function.", "refactorer"],
      ],
    );
    assert.ok(plan.steps.every((s, i) => s.id === `s${i + 1}` && s.status === "pending"));
  });

  it("reads bullets, 'Step n:' items, bold titles and continuation lines", () => {
    const plan = planFromText(
      "## Plan\n- **Fix the parser**: handle empty input\n  in parse() of src/p.py\n* Step two\nStep 3: add a test for empty input",
    );
    assert.deepEqual(
      plan.steps.map((s) => s.description),
      ["Fix the parser: handle empty input in parse() of src/p.py", "Step two", "add a test for empty input"],
    );
    assert.equal(plan.steps[2]!.owner, "tester");
  });

  it("makes prose without a list one step, so nothing the model said is lost", () => {
    const text = "I will change the comparison in isEven to use === and then run the tests.";
    const plan = planFromText(text);
    assert.deepEqual(plan.facts, []);
    assert.equal(plan.steps.length, 1);
    assert.equal(plan.steps[0]!.description, text);
  });
});
