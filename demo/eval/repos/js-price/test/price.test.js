const test = require("node:test");
const assert = require("node:assert");
const { total } = require("../price.js");

test("sums prices", () => assert.equal(total([{ price: 2, quantity: 1 }]), 2));
