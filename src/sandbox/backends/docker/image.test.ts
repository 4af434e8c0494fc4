import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  IMAGE_PACKAGES,
  importChanges,
  mirrorFromDeb822,
  mirrorFromList,
  mmdebstrapArgs,
  splitImageName,
} from "./image.ts";

describe("sandbox image build inputs", () => {
  it("reads the Debian mirror from deb822 sources, skipping security and disabled stanzas", () => {
    const text = [
      "Types: deb",
      "URIs: http://security.debian.org/debian-security",
      "Suites: bookworm-security",
      "Components: main",
      "",
      "Types: deb",
      "URIs: http://old.example/debian",
      "Suites: bookworm",
      "Enabled: no",
      "",
      "Types: deb deb-src",
      "# a comment",
      "URIs: http://mirror.example/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
    ].join("\n");
    assert.equal(mirrorFromDeb822(text, "bookworm"), "http://mirror.example/debian");
    assert.equal(mirrorFromDeb822(text, "trixie"), undefined);
  });

  it("reads the Debian mirror from sources.list lines", () => {
    const text = [
      "# deb http://commented.example/debian bookworm main",
      "deb-src http://src.example/debian bookworm main",
      "deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian bookworm main",
    ].join("\n");
    assert.equal(mirrorFromList(text, "bookworm"), "http://list.example/debian");
  });

  it("builds mmdebstrap arguments: packages, Node, npm, the sandbox user, tarball to stdout", () => {
    const args = mmdebstrapArgs({
      suite: "bookworm",
      mirror: "http://m/debian",
      nodeBinary: "/opt/n/bin/node",
      npmDir: "/usr/lib/node_modules/npm",
    });
    assert.deepEqual(args.slice(-3), ["bookworm", "-", "http://m/debian"]);
    assert.ok(args.includes("--variant=minbase"));
    assert.ok(args.includes(`--include=${IMAGE_PACKAGES.join(",")}`));
    assert.ok(args.includes("--customize-hook=upload /opt/n/bin/node /opt/node/bin/node"));
    assert.ok(args.includes("--customize-hook=copy-in /usr/lib/node_modules/npm /opt/node/lib/node_modules"));
    assert.ok(args.some((a) => a.includes("entourage:x:65532:65532")));
    const noNpm = mmdebstrapArgs({ suite: "bookworm", mirror: "http://m", nodeBinary: "/n/node" });
    assert.ok(!noNpm.some((a) => a.includes("npm")));
    assert.throws(() => mmdebstrapArgs({ suite: "b", mirror: "m", nodeBinary: "/with space/node" }));
  });

  it("sets PATH, WORKDIR and labels on import", () => {
    assert.deepEqual(importChanges({ "dev.entourage.node": "v24.1.0" }), [
      "ENV PATH=/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "WORKDIR /workspace",
      'LABEL dev.entourage.node="v24.1.0"',
    ]);
  });

  it("splits image names, registry ports included", () => {
    assert.deepEqual(splitImageName("entourage/sandbox:bookworm"), {
      repo: "entourage/sandbox",
      tag: "bookworm",
    });
    assert.deepEqual(splitImageName("localhost:5000/x"), { repo: "localhost:5000/x", tag: "latest" });
  });
});
