import { lchownSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";

/**
 * Workspace ownership when Entourage runs as root and commands run as an unprivileged sandbox uid.
 *
 * The workspace is the run's copy, so it is lent to the sandbox uid for the life of a session: the tree
 * is chowned to it on create(), and returned to the owner of the workspace root when the last session on
 * it is destroyed (files the commands created included). Root keeps full access meanwhile. Walks never
 * follow symlinks (lchown, no descent into linked dirs), and regular files with several hard links are
 * skipped: a link planted to a file outside the workspace must not hand that file to the sandbox.
 */
interface Lease {
  count: number;
  owner: { uid: number; gid: number };
}

const leases = new Map<string, Lease>();

/** Lends `root` (a real path) to `uid:gid`; the returned function gives it back (once). */
export function lendWorkspace(root: string, uid: number, gid: number): () => void {
  let lease = leases.get(root);
  if (!lease) {
    const stat = lstatSync(root);
    lease = { count: 0, owner: { uid: stat.uid, gid: stat.gid } };
    chownTree(root, uid, gid);
    if (lstatSync(root).uid !== uid) {
      chownTree(root, lease.owner.uid, lease.owner.gid);
      throw new Error(
        `cannot give the workspace ${root} to uid ${uid} (chown refused: a read-only or root-squashed filesystem?)`,
      );
    }
    leases.set(root, lease);
  }
  lease.count++;
  let returned = false;
  return () => {
    if (returned || !lease) return;
    returned = true;
    lease.count--;
    if (lease.count > 0) return;
    leases.delete(root);
    chownTree(root, lease.owner.uid, lease.owner.gid);
  };
}

/** `chown -hR uid:gid root` without following symlinks and skipping multiply-linked files. */
export function chownTree(root: string, uid: number, gid: number): void {
  const visit = (file: string) => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(file);
    } catch {
      return; // removed meanwhile
    }
    if (stat.isFile() && stat.nlink > 1) return;
    if (stat.uid !== uid || stat.gid !== gid) {
      try {
        lchownSync(file, uid, gid);
      } catch {
        // removed meanwhile, or a read-only mount inside the workspace
      }
    }
    if (!stat.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(file);
    } catch {
      return;
    }
    for (const name of names) visit(path.join(file, name));
  };
  visit(root);
}
