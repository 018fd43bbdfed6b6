/**
 * Walks a directory tree for a layer: depth first, siblings in byte order of
 * their names, each entry lstat'ed (symlinks are entries, never followed), so
 * a parent always comes before its children and two walks of the same tree
 * give the same order.
 */
import type { BigIntStats } from "node:fs";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { OciImageError } from "../errors.js";

export interface TreeEntry {
  /** The path inside the tree: `/`-separated, no leading `./` or `/`. */
  name: string;
  /** The path on disk. */
  path: string;
  stats: BigIntStats;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Every entry under `root` (not `root` itself), parents before children, siblings sorted bytewise. */
export async function* walkTree(root: string, signal?: AbortSignal): AsyncGenerator<TreeEntry> {
  yield* walkDirectory(root, "", signal);
}

// The walk uses synchronous calls: each is a few microseconds on a warm cache,
// where a round trip to the threadpool (busy compressing) costs far more.
async function* walkDirectory(directory: string, prefix: string, signal?: AbortSignal): AsyncGenerator<TreeEntry> {
  for (const name of readNames(directory)) {
    signal?.throwIfAborted();
    const path = join(directory, name);
    const entryName = prefix ? `${prefix}/${name}` : name;
    const stats = lstatEntry(path);
    yield { name: entryName, path, stats };
    if (stats.isDirectory()) yield* walkDirectory(path, entryName, signal);
  }
}

/** A directory's names, sorted by their bytes; names that are not UTF-8 are refused (tar paths in PAX are UTF-8). */
function readNames(directory: string): string[] {
  let raw: Buffer[];
  try {
    raw = readdirSync(directory, { encoding: "buffer" });
  } catch (error) {
    throw unreadable(directory, error);
  }
  raw.sort(Buffer.compare);
  return raw.map((bytes) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw new OciImageError(
        "ROOTFS_NAME_ENCODING",
        `${join(directory, bytes.toString("latin1"))}: file name is not valid UTF-8, which a layer tar cannot hold; rename it`,
        { where: directory },
      );
    }
  });
}

function lstatEntry(path: string): BigIntStats {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    throw unreadable(path, error);
  }
}

/** The error for a path of the tree that can't be read, saying what to do. */
export function unreadable(path: string, error: unknown): OciImageError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "EACCES" || code === "EPERM") {
    return new OciImageError(
      "ROOTFS_UNREADABLE",
      `cannot read ${path}: permission denied (run as a user who can read the whole tree, or fix its permissions)`,
      { where: path, cause: error },
    );
  }
  if (code === "ENOENT") {
    return new OciImageError(
      "ROOTFS_CHANGED",
      `${path} disappeared while the layer was being written; don't change the tree during create`,
      { where: path, cause: error },
    );
  }
  return new OciImageError("ROOTFS_UNREADABLE", `cannot read ${path}: ${(error as Error)?.message ?? String(error)}`, {
    where: path,
    cause: error,
  });
}
