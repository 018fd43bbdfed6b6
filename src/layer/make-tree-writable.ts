/** Before removing a tree made without root: directories a layer made read-only must be writable again. */
import { chmod, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { lstatOrUndefined } from "./root-resolver.js";

/** Gives the owner rwx on every directory under `path` (not following symlinks), so it can be removed. */
export async function makeTreeWritable(path: string): Promise<void> {
  const stats = await lstatOrUndefined(path);
  if (!stats?.isDirectory()) return;
  if ((stats.mode & 0o700) !== 0o700) await chmod(path, (stats.mode & 0o7777) | 0o700);
  for (const name of await readdir(path)) await makeTreeWritable(join(path, name));
}

/** rm -r, after giving the owner write access to read-only directories (a rootless rootfs has them). */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EACCES") throw error;
    await makeTreeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}
