import { accessSync, constants } from "node:fs";
import path from "node:path";

/** Absolute path of `name` on the host `PATH` (or in the usual system dirs), or undefined. */
export function findExecutable(name: string, searchPath = process.env.PATH ?? ""): string | undefined {
  const dirs = [...searchPath.split(":"), "/usr/bin", "/bin", "/usr/sbin", "/sbin"].filter((d) =>
    path.isAbsolute(d),
  );
  for (const dir of new Set(dirs)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
