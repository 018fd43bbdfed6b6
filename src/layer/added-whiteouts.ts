/**
 * Whiteouts in a layer made from a directory: a `.wh.` file of the directory
 * is refused unless whiteouts were allowed (it would delete a file of the
 * layers below, which a file of that name almost never means to), and a path
 * to remove from the layers below becomes an empty `d/.wh.name` entry.
 */
import type { Pack } from "tar-stream";
import { InvalidSettingError, OciImageError } from "../errors.js";
import { WHITEOUT_PREFIX } from "./whiteout.js";

/** Refuses a walked entry whose name is a whiteout's. */
export function refuseWhiteoutName(name: string, path: string): void {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return;
  throw new OciImageError(
    "ROOTFS_WHITEOUT",
    `${path} has a whiteout name (${WHITEOUT_PREFIX}…), which would delete a file of the layers below; ` +
      `rename it, or allow whiteouts (--whiteouts) when the directory holds them on purpose`,
    { where: path },
  );
}

/** `/etc/motd` or `etc/motd` → `etc/.wh.motd`; refuses the root, `.`/`..` components and whiteout names. */
export function whiteoutEntryFor(path: string): string {
  const parts = path.split("/").filter((part) => part !== "");
  const bad = parts.find((part) => part === "." || part === ".." || part.startsWith(WHITEOUT_PREFIX));
  if (parts.length === 0 || bad !== undefined || path.includes("\0")) {
    throw new InvalidSettingError(
      "remove",
      `must be a path of a file or directory inside the image, such as /etc/motd, not "${path}"`,
    );
  }
  const name = parts.pop()!;
  return [...parts, `${WHITEOUT_PREFIX}${name}`].join("/");
}

/** Appends the whiteout entries: empty files, mode 0644, owned by root (their owner means nothing), at `mtime`. */
export async function addWhiteoutEntries(tar: Pack, names: readonly string[], mtime: number): Promise<void> {
  for (const name of names) {
    const header = { name, type: "file" as const, mode: 0o644, uid: 0, gid: 0, size: 0, mtime: new Date(mtime * 1000) };
    await new Promise<void>((resolve, reject) =>
      tar.entry(header, Buffer.alloc(0), (error) => (error ? reject(error) : resolve())),
    );
  }
}
