import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Directory where Entourage keeps its state (event database, run workspaces): `ENTOURAGE_HOME` when
 * set and non-empty, else `~/.entourage`. Always absolute.
 */
export function entourageHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.ENTOURAGE_HOME;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return resolve(fromEnv);
  return join(homedir(), ".entourage");
}
