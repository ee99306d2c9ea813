import { chown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes `dir` and everything under it owned by `uid:gid` (symlinks themselves, never followed).
 * Cheap when already done: a tree whose top directory has the owner is taken as owned (dolly's
 * servers write only as that user). Data made by a server that ran as root (a Swarm replica, a
 * root made before servers ran unprivileged) is walked once.
 */
export async function ensureOwned(dir: string, uid: number, gid: number): Promise<void> {
  const top = await lstat(dir);
  if (top.uid === uid && top.gid === gid) return;
  await chownTree(dir, uid, gid);
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  const info = await lstat(path);
  if (info.isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
  }
  // The directory last: a crash half-way leaves its owner unchanged, so the next start walks again.
  if (!info.isSymbolicLink()) await chown(path, uid, gid);
}
