import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { fsPath } from "./path-bytes.ts";

const OBJECT_DIR = /^[0-9a-f]{2}$/;

/**
 * Copies the loose objects and packs of the shadow git `fromGitDir` that `toGitDir` lacks (objects are
 * immutable and named by their hash, so a copy is as good as a fetch), 0600 like the rest of the shadow
 * git. For merging back a copy that borrows this repository's objects: it holds only what its agent
 * wrote, as loose objects, so this replaces a fetch's four processes with a few file copies. Returns
 * how many files were copied.
 */
export async function copyMissingObjects(fromGitDir: string, toGitDir: string): Promise<number> {
  const from = path.join(fromGitDir, "objects");
  const to = path.join(toGitDir, "objects");
  let copied = 0;
  const copy = async (rel: string) => {
    try {
      await copyFile(path.join(from, rel), path.join(to, rel), constants.COPYFILE_EXCL);
      await chmod(path.join(to, rel), 0o600);
      copied++;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  };
  for (const dir of await readdir(from)) {
    if (OBJECT_DIR.test(dir)) {
      const names = await readdir(path.join(from, dir));
      if (names.length === 0) continue;
      await mkdir(path.join(to, dir), { recursive: true, mode: 0o700 });
      await Promise.all(names.map((name) => copy(path.join(dir, name))));
    } else if (dir === "pack") {
      // The .idx after its .pack: git only looks at packs through their index.
      const names = (await readdir(path.join(from, dir)))
        .filter((n) => /\.(pack|idx)$/.test(n))
        .sort()
        .reverse();
      for (const name of names) await copy(path.join(dir, name));
    }
  }
  return copied;
}

/**
 * `keepPrivate` for only the paths git just wrote (and the directories above them, which it may have
 * made): the group's and others' bits taken away without a `chmod -R` of the whole work tree — which
 * also stamps every file's ctime and so would make the next snapshot walk see every file as changed.
 * Symlinks are left alone (their mode means nothing, and chmod would follow them).
 */
export async function keepPathsPrivate(dir: string, paths: readonly string[]): Promise<void> {
  const seen = new Set<string>();
  const targets: string[] = [];
  for (const rel of paths) {
    const parts = rel.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join("/");
      if (!seen.has(sub)) {
        seen.add(sub);
        targets.push(sub);
      }
    }
  }
  await Promise.all(
    targets.map(async (rel) => {
      const file = fsPath(dir, rel);
      const info = await lstat(file).catch(() => undefined); // a deleted path
      if (!info || info.isSymbolicLink() || (info.mode & 0o077) === 0) return;
      await chmod(file, info.mode & 0o7700);
    }),
  );
}
