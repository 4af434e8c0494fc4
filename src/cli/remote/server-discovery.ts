import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a running server says about itself in `$ENTOURAGE_HOME/servers/<pid>.json`. */
export interface ServerInfo {
  url: string;
  pid: number;
  /** `serve`, or `run` for the server a CLI run starts for itself. */
  kind: "serve" | "run";
  /** For a CLI run's server: the run it drives. */
  runId?: string;
  startedAt: number;
}

const dir = (home: string) => join(home, "servers");

/** Records a listening server so `entourage attach` can find it; returns the function that removes it. */
export function announceServer(home: string, info: ServerInfo): () => void {
  const file = join(dir(home), `${info.pid}-${info.startedAt}.json`);
  try {
    mkdirSync(dir(home), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
  } catch {
    return () => {};
  }
  return () => rmSync(file, { force: true });
}

/** Servers announced by processes still alive, newest first (files of dead processes are removed). */
export function findServers(home: string): ServerInfo[] {
  let names: string[];
  try {
    names = readdirSync(dir(home));
  } catch {
    return [];
  }
  const servers: ServerInfo[] = [];
  for (const name of names) {
    const file = join(dir(home), name);
    try {
      const info = JSON.parse(readFileSync(file, "utf8")) as ServerInfo;
      if (alive(info.pid)) servers.push(info);
      else rmSync(file, { force: true });
    } catch {
      // A file being written or not ours: skip it.
    }
  }
  return servers.sort((a, b) => b.startedAt - a.startedAt);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
