import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routeRequest } from "./route.ts";

describe("routeRequest", () => {
  const answer = [
    "List the files in this repo",
    "Explain how the auth module works",
    "Where is the config parsed?",
    "What does `parseArgs` return?",
    "How should I refactor the auth module?",
    "Can you explain the retry logic?",
    "Please summarize the README",
    "Why does the date test fail?",
    "show me the entry point",
    "Read README.md and tell me what it says",
    "Look at src/date.js",
    "Inspect the retry policy",
  ];
  const change = [
    "Refactor the authentication module to use JWT tokens",
    "Fix the failing test in test/math.test.js",
    "Add a --verbose flag",
    "Can you fix the bug in subtract?",
    "Please rename foo to bar",
    "Find and fix the off-by-one error in paginate()",
    "The login page crashes on empty passwords",
    "I want you to migrate the tests to vitest",
    "Let's add caching to the HTTP client",
    "Read the failing test and fix it",
    "Look at the login page and make it faster",
  ];
  for (const task of answer) {
    it(`answers: ${task}`, () => assert.equal(routeRequest(task).route, "answer", routeRequest(task).reason));
  }
  for (const task of change) {
    it(`changes: ${task}`, () => assert.equal(routeRequest(task).route, "change", routeRequest(task).reason));
  }
  it("says why", () => {
    assert.equal(routeRequest("Fix it").reason, 'the request asks for a change ("fix")');
    assert.match(routeRequest("Where is main?").reason, /question/);
  });
});
