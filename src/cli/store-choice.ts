/**
 * Which event store the commands open: the global `--store` flag (set once from main.ts before any
 * command runs), else ENTOURAGE_DATABASE_URL, else the SQLite file in the Entourage home.
 */
import { entourageHome } from "../store/home.ts";
import { resolveStoreLocation, type StoreLocation } from "../store/location.ts";

let storeFlag: string | undefined;

/** Records `--store` (main.ts, before the command's action). */
export function setStoreFlag(value: string | undefined): void {
  storeFlag = value;
}

export function storeLocation(env: NodeJS.ProcessEnv = process.env): StoreLocation {
  return resolveStoreLocation({ flag: storeFlag, env, home: entourageHome(env) });
}
