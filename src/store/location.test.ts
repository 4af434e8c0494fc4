import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../core/errors.ts";
import { redactDatabaseUrl, resolveStoreLocation } from "./location.ts";

const home = "/home/dev/.entourage";

describe("resolveStoreLocation", () => {
  it("defaults to the SQLite file in the Entourage home", () => {
    assert.deepEqual(resolveStoreLocation({ home, env: {} }), {
      kind: "sqlite",
      path: join(home, "entourage.db"),
      display: join(home, "entourage.db"),
      source: "default",
    });
    assert.equal(resolveStoreLocation({ home, env: { ENTOURAGE_DATABASE_URL: "  " } }).source, "default");
  });

  it("picks PostgreSQL for a postgres:// or postgresql:// URL, the flag over the variable", () => {
    const env = { ENTOURAGE_DATABASE_URL: "postgresql://a:pw1@db/one" };
    const fromEnv = resolveStoreLocation({ home, env });
    assert.equal(fromEnv.kind, "postgres");
    assert.equal(fromEnv.source, "ENTOURAGE_DATABASE_URL");
    assert.equal(fromEnv.display, "postgresql://a:***@db/one");
    const fromFlag = resolveStoreLocation({ home, env, flag: "postgres://b:pw2@db:6543/two" });
    assert.deepEqual(fromFlag, {
      kind: "postgres",
      url: "postgres://b:pw2@db:6543/two",
      display: "postgres://b:***@db:6543/two",
      source: "--store",
    });
  });

  it("takes a path as a SQLite file, relative to the current directory or ~", () => {
    assert.equal(resolveStoreLocation({ home, flag: "runs.db" }).display, resolve("runs.db"));
    const tilde = resolveStoreLocation({ home, env: { ENTOURAGE_DATABASE_URL: "~/x/e.db" } });
    assert.equal(tilde.kind === "sqlite" && tilde.path, join(homedir(), "x/e.db"));
  });

  it("refuses other URL schemes and malformed PostgreSQL URLs without printing the password", () => {
    assert.throws(
      () => resolveStoreLocation({ home, flag: "mysql://u:hunter2@db/x" }),
      (e: unknown) =>
        UserError.isInstance(e) &&
        e.code === "store_unsupported" &&
        e.message.includes("--store") &&
        !e.message.includes("hunter2"),
    );
    assert.throws(
      () => resolveStoreLocation({ home, env: { ENTOURAGE_DATABASE_URL: "postgres://u:hunter2@[bad/x" } }),
      (e: unknown) => UserError.isInstance(e) && e.code === "store_bad_url" && !e.message.includes("hunter2"),
    );
  });
});

describe("redactDatabaseUrl", () => {
  it("hides the password in the user info and in a password= parameter, and nothing else", () => {
    assert.equal(
      redactDatabaseUrl("postgres://me:s3cr%40t@h:5432/db?sslmode=require&password=two"),
      "postgres://me:***@h:5432/db?sslmode=require&password=***",
    );
    assert.equal(redactDatabaseUrl("postgres://me@h/db"), "postgres://me@h/db");
    assert.equal(redactDatabaseUrl("postgres://h/db"), "postgres://h/db");
  });
});
