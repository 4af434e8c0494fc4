import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { entourageHome } from "../../src/store/index.ts";

describe("entourageHome", () => {
  it("uses ENTOURAGE_HOME, made absolute, when set", () => {
    assert.equal(entourageHome({ ENTOURAGE_HOME: "/srv/entourage" }), "/srv/entourage");
    assert.equal(entourageHome({ ENTOURAGE_HOME: "rel/home" }), resolve("rel/home"));
  });

  it("falls back to ~/.entourage when unset or empty", () => {
    assert.equal(entourageHome({}), join(homedir(), ".entourage"));
    assert.equal(entourageHome({ ENTOURAGE_HOME: "" }), join(homedir(), ".entourage"));
  });
});
