const test = require("node:test");
const assert = require("node:assert");
const slugify = require("../slug.js");

test("lowercases", () => assert.equal(slugify("Hello"), "hello"));
test("one dash between words", () => assert.equal(slugify("Hello   big  World"), "hello-big-world"));
