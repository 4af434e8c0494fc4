import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { prepareEtcDir } from "./system-entries.ts";

describe("prepareEtcDir", () => {
  const root = mkdtempSync(path.join(tmpdir(), "entourage-etc-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  // A fake host /etc with secrets next to the pieces the sandbox needs.
  const host = path.join(root, "host-etc");
  mkdirSync(path.join(host, "ssl", "certs"), { recursive: true });
  mkdirSync(path.join(host, "ssl", "private"), { recursive: true });
  mkdirSync(path.join(host, "alternatives"));
  writeFileSync(path.join(host, "ld.so.cache"), "cache");
  writeFileSync(path.join(host, "shadow"), "root:secret");
  writeFileSync(path.join(host, "gitconfig"), "[credential]");
  writeFileSync(path.join(host, "ssl", "private", "key.pem"), "KEY");
  writeFileSync(path.join(host, "resolv.conf"), "nameserver 10.0.0.1\n");
  symlinkSync("/usr/share/zoneinfo/Etc/UTC", path.join(host, "localtime"));

  it("writes generated files, copies listed pieces, makes mount points, and nothing else", () => {
    const dir = path.join(root, "off");
    const binds = prepareEtcDir(dir, { passwd: "p", hosts: "h" }, "off", host);
    assert.deepEqual(readdirSync(dir).sort(), [
      "alternatives",
      "hosts",
      "ld.so.cache",
      "localtime",
      "passwd",
      "ssl",
    ]);
    assert.deepEqual(readdirSync(path.join(dir, "ssl")), ["certs"]);
    assert.equal(readlinkSync(path.join(dir, "localtime")), "/usr/share/zoneinfo/Etc/UTC");
    assert.equal(readFileSync(path.join(dir, "ld.so.cache"), "utf8"), "cache");
    assert.deepEqual(
      binds.map((b) => [b.path, b.kind === "ro-bind" ? b.source : ""]),
      [
        ["/etc/alternatives", path.join(host, "alternatives")],
        ["/etc/ssl/certs", path.join(host, "ssl/certs")],
      ],
    );
  });

  it("adds the resolver config only when the network is on", () => {
    const dir = path.join(root, "on");
    prepareEtcDir(dir, {}, "on", host);
    assert.equal(readFileSync(path.join(dir, "resolv.conf"), "utf8"), "nameserver 10.0.0.1\n");
  });
});
