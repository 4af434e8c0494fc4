import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { detectToolchain, refusedDir, type ToolchainFs, toolchainEnv } from "./toolchain.ts";

/** A filesystem of the given directories (symlinks as `link → target` pairs). */
function fakeFs(dirs: string[], links: Record<string, string> = {}): ToolchainFs {
  const set = new Set(dirs);
  return {
    realDir(dir) {
      let d = path.resolve(dir);
      for (const [link, target] of Object.entries(links))
        if (d === link || d.startsWith(`${link}/`)) d = target + d.slice(link.length);
      return set.has(d) ? d : undefined;
    },
    list: () => [],
  };
}

const HOME = "/home/ada";
const NODE24 = "/work/app/node_modules/node/bin/node";

describe("detectToolchain", () => {
  it("keeps the user's PATH order minus Entourage's runtime, npm's .bin and node-gyp-bin", () => {
    const fs = fakeFs([
      "/work/app/node_modules/node/bin",
      `${HOME}/.local/bin`,
      "/opt/node20/bin",
      "/opt/node20",
    ]);
    const { toolchain, notes } = detectToolchain(
      {
        env: {
          HOME,
          PATH: [
            "/work/app/node_modules/.bin",
            "/work/app/node_modules/node/bin",
            "/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin",
            `${HOME}/.local/bin`,
            "/opt/node20/bin",
            "relative/bin",
            "/usr/bin",
            "/bin",
          ].join(":"),
        },
        execPath: NODE24,
      },
      fs,
    );
    assert.equal(
      toolchain.path,
      `${HOME}/.local/bin:/opt/node20/bin:/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin`,
    );
    // ~/.local holds keyrings, so only its bin; /opt/node20/bin brings its prefix (npm's lib).
    assert.deepEqual(toolchain.dirs, [`${HOME}/.local/bin`, "/opt/node20"]);
    assert.match(
      notes.join("\n"),
      /Entourage's own runtime \(\/work\/app\/node_modules\/node\/bin\) left off PATH/,
    );
  });

  it("entourageRuntime: Entourage's Node first on PATH and bound", () => {
    const fs = fakeFs(["/work/app/node_modules/node/bin", "/work/app/node_modules/node"]);
    const { toolchain } = detectToolchain(
      {
        env: { HOME, PATH: "/work/app/node_modules/.bin:/usr/bin" },
        execPath: NODE24,
        entourageRuntime: true,
      },
      fs,
    );
    assert.match(toolchain.path, /^\/work\/app\/node_modules\/node\/bin:\/usr\/bin:/);
    assert.deepEqual(toolchain.dirs, ["/work/app/node_modules/node"]);
  });

  it("rustup: the toolchains read-only, ~/.cargo/bin only (credentials live beside it), a fresh CARGO_HOME", () => {
    const fs = fakeFs([`${HOME}/.cargo/bin`, `${HOME}/.rustup`, `${HOME}/.rustup/toolchains`]);
    const { toolchain } = detectToolchain(
      { env: { HOME, PATH: `${HOME}/.cargo/bin:/usr/bin` }, execPath: NODE24, dependencyPaths: ["target"] },
      fs,
    );
    assert.deepEqual(toolchain.dirs, [`${HOME}/.cargo/bin`, `${HOME}/.rustup`]);
    assert.equal(toolchain.env?.RUSTUP_HOME, `${HOME}/.rustup`);
    assert.equal(toolchain.env?.CARGO_HOME, "~/.cargo");
    assert.equal(toolchain.env?.CARGO_NET_OFFLINE, "true");
    assert.equal(
      toolchain.env?.CARGO_TARGET_DIR,
      "~/cargo-target",
      "a read-only target/ sends output elsewhere",
    );
    assert.deepEqual(toolchainEnv(toolchain, "/tmp/home").CARGO_HOME, "/tmp/home/.cargo");
  });

  it("rustup installed under another home than HOME (sudo -E, a service account): found beside its cargo", () => {
    const fs = fakeFs(["/opt/rust/.cargo/bin", "/opt/rust/.rustup", "/opt/rust/.rustup/toolchains"]);
    const { toolchain } = detectToolchain(
      { env: { HOME: "/tmp/elsewhere", PATH: "/opt/rust/.cargo/bin:/usr/bin" }, execPath: NODE24 },
      fs,
    );
    assert.equal(toolchain.env?.RUSTUP_HOME, "/opt/rust/.rustup");
    assert.ok(toolchain.dirs.includes("/opt/rust/.rustup"), toolchain.dirs.join());
    assert.equal(toolchain.env?.CARGO_HOME, "~/.cargo");
  });

  it("Go: GOROOT and the module cache read-only, offline unless the network is on", () => {
    const fs = fakeFs(["/opt/go", `${HOME}/go/pkg/mod`]);
    const env = { HOME, PATH: "/opt/go/bin:/usr/bin", GOROOT: "/opt/go" };
    const off = detectToolchain({ env, execPath: NODE24 }, fs).toolchain;
    assert.deepEqual(off.dirs, [`${HOME}/go/pkg/mod`, "/opt/go"]);
    assert.equal(off.env?.GOMODCACHE, `${HOME}/go/pkg/mod`);
    assert.equal(off.env?.GOPROXY, "off");
    assert.equal(off.env?.GOFLAGS, "-mod=mod");
    assert.equal(off.env?.GOCACHE, undefined, "the default under the sandbox's HOME is writable");
    const on = detectToolchain({ env, execPath: NODE24, network: "on" }, fs).toolchain;
    assert.equal(on.env?.GOPROXY, undefined);
  });

  it("pyenv and nvm: their roots, with the variables their shims read", () => {
    const fs = fakeFs([
      `${HOME}/.pyenv`,
      `${HOME}/.pyenv/shims`,
      `${HOME}/.pyenv/bin`,
      `${HOME}/.nvm`,
      `${HOME}/.nvm/versions/node/v20.1.0`,
      `${HOME}/.nvm/versions/node/v20.1.0/bin`,
    ]);
    const { toolchain } = detectToolchain(
      {
        env: {
          HOME,
          PYENV_ROOT: `${HOME}/.pyenv`,
          NVM_DIR: `${HOME}/.nvm`,
          PATH: `${HOME}/.pyenv/shims:${HOME}/.pyenv/bin:${HOME}/.nvm/versions/node/v20.1.0/bin:/usr/bin`,
        },
        execPath: NODE24,
      },
      fs,
    );
    assert.deepEqual(toolchain.dirs, [`${HOME}/.nvm`, `${HOME}/.pyenv`]);
    assert.equal(toolchain.env?.PYENV_ROOT, `${HOME}/.pyenv`);
    assert.equal(toolchain.env?.NVM_DIR, `${HOME}/.nvm`);
  });

  it("never binds HOME, / or a credentials folder: PATH entries are dropped with a note, toolchainPaths refused", () => {
    const fs = fakeFs([HOME, `${HOME}/.ssh`, "/", `${HOME}/.config`]);
    const { toolchain, notes } = detectToolchain(
      { env: { HOME, PATH: `${HOME}:${HOME}/.ssh:/:/usr/bin` }, execPath: NODE24 },
      fs,
    );
    assert.deepEqual(toolchain.dirs, []);
    assert.ok(!toolchain.path.split(":").includes(HOME));
    assert.match(notes.join("\n"), /your home directory/);
    assert.match(notes.join("\n"), /\.ssh, which holds credentials/);
    for (const bad of [HOME, "/", `${HOME}/.config`, `${HOME}/.aws/sso`, "/etc", "/run/user/0"]) {
      assert.throws(
        () =>
          detectToolchain(
            { env: { HOME, PATH: "/usr/bin" }, execPath: NODE24, extraPaths: [bad] },
            fakeFs([bad]),
          ),
        (error: Error & { code?: string }) =>
          error.code === "toolchain_path_refused" && error.message.includes(bad),
        bad,
      );
    }
  });

  it("a symlinked PATH entry binds the path and its target", () => {
    const fs = fakeFs(["/opt/go-1.22/bin"], { "/opt/go/bin": "/opt/go-1.22/bin" });
    const { toolchain } = detectToolchain(
      { env: { HOME, PATH: "/opt/go/bin:/usr/bin" }, execPath: NODE24 },
      fs,
    );
    assert.deepEqual(toolchain.dirs, ["/opt/go-1.22/bin", "/opt/go/bin"]);
  });
});

describe("refusedDir", () => {
  it("allows toolchain folders, refuses ancestors of HOME and credentials", () => {
    assert.equal(refusedDir(`${HOME}/.rustup`, HOME), undefined);
    assert.equal(refusedDir("/opt/go", HOME), undefined);
    assert.match(refusedDir("/home", HOME) ?? "", /ancestor of your home/);
    assert.match(refusedDir(`${HOME}/.cargo`, HOME) ?? "", /credentials/);
    assert.match(refusedDir(`${HOME}/.docker`, HOME) ?? "", /credentials/);
    assert.match(refusedDir("/var/run", HOME) ?? "", /must never be mounted/);
  });
});
