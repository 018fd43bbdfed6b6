/** Reads a small file of a rootfs (e.g. /etc/passwd) the way the container would see it, never outside the rootfs. */
import { constants as fsConstants } from "node:fs";
import { open } from "node:fs/promises";
import { InvalidContentError } from "../errors.js";
import { resolveInRoot } from "../layer/root-resolver.js";

/** /etc/passwd and /etc/group over this are refused. */
export const MAX_ROOTFS_FILE_BYTES = 1024 * 1024;

/** The file's text, or undefined when it does not exist (or is not a regular file). */
export async function readRootfsFile(rootfs: string, path: string): Promise<string | undefined> {
  const resolved = await resolveInRoot(rootfs, path.split("/").filter(Boolean), { followLast: true });
  if (!resolved.stats?.isFile()) return undefined;
  if (resolved.stats.size > MAX_ROOTFS_FILE_BYTES) {
    throw new InvalidContentError(
      "ROOTFS_FILE_TOO_LARGE",
      `${path} in the rootfs is ${resolved.stats.size} bytes, over the ${MAX_ROOTFS_FILE_BYTES}-byte limit for reading it`,
      { where: path },
    );
  }
  // O_NOFOLLOW: the last component was resolved to a regular file; refuse if that changed.
  const handle = await open(resolved.path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const buffer = Buffer.alloc(MAX_ROOTFS_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_ROOTFS_FILE_BYTES)
      throw new InvalidContentError(
        "ROOTFS_FILE_TOO_LARGE",
        `${path} in the rootfs is over the ${MAX_ROOTFS_FILE_BYTES}-byte limit for reading it`,
        { where: path },
      );
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}
