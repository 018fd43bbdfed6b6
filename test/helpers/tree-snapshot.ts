/**
 * A comparable picture of a directory tree: for every path (relative, sorted)
 * its type, mode, owner, size, link target and a content hash, plus which
 * paths share an inode (hardlinks). Nothing is followed: symlinks are listed
 * as links. Used to compare our unpack with umoci's, and to prove that
 * nothing outside a bundle changed.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

export interface SnapshotEntry {
  type: "file" | "directory" | "symlink" | "fifo" | "char" | "block" | "socket" | "other";
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  linkTarget?: string;
  sha256?: string;
  /** In milliseconds, or seconds with `mtimeUnit: "s"`. */
  mtime?: number;
  /** Other paths of the same inode (files with more than one link), sorted. */
  hardlinkGroup?: string;
  rdev?: number;
}

export type TreeSnapshot = Map<string, SnapshotEntry>;

export interface SnapshotOptions {
  /** Record mtimes (whole milliseconds): of everything but directories, or with "all" of directories too. */
  mtimes?: boolean | "all";
  /** Whole seconds (what a tar keeps) instead of milliseconds. */
  mtimeUnit?: "ms" | "s";
  /** Top-level names to leave out (e.g. umoci.json). */
  exclude?: string[];
  /** Leave out the root directory itself (its mode and owner come from the caller, not the tree). */
  withoutRoot?: boolean;
}

export async function snapshotTree(root: string, options: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = new Map();
  const inodes = new Map<string, string[]>();
  const exclude = new Set(options.exclude ?? []);
  async function visit(relative: string): Promise<void> {
    const path = relative === "" ? root : join(root, relative);
    const stats = await lstat(path);
    const entry: SnapshotEntry = {
      type: stats.isFile()
        ? "file"
        : stats.isDirectory()
          ? "directory"
          : stats.isSymbolicLink()
            ? "symlink"
            : stats.isFIFO()
              ? "fifo"
              : stats.isCharacterDevice()
                ? "char"
                : stats.isBlockDevice()
                  ? "block"
                  : stats.isSocket()
                    ? "socket"
                    : "other",
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
    };
    if (options.mtimes === "all" || (options.mtimes && entry.type !== "directory")) {
      entry.mtime = options.mtimeUnit === "s" ? Math.floor(stats.mtimeMs / 1000) : Math.floor(stats.mtimeMs);
    }
    if (entry.type === "file") {
      entry.size = stats.size;
      entry.sha256 = await hashFile(path);
      if (stats.nlink > 1) {
        const key = `${stats.dev}:${stats.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), relative]);
        entry.hardlinkGroup = key;
      }
    }
    if (entry.type === "symlink") {
      entry.linkTarget = await readlink(path);
      delete (entry as { mode?: number }).mode;
    }
    if (entry.type === "char" || entry.type === "block") entry.rdev = stats.rdev;
    if (relative !== "" || !options.withoutRoot) snapshot.set(relative === "" ? "." : relative, entry);
    if (entry.type === "directory") {
      for (const name of (await readdir(path)).sort()) {
        if (relative === "" && exclude.has(name)) continue;
        await visit(relative === "" ? name : `${relative}/${name}`);
      }
    }
  }
  await visit("");
  // Hardlink groups named by their members, so two trees compare equal regardless of inode numbers.
  for (const members of inodes.values()) {
    const name = [...members].sort().join(" ");
    for (const member of members) snapshot.get(member)!.hardlinkGroup = members.length > 1 ? name : undefined;
  }
  for (const entry of snapshot.values()) if (entry.hardlinkGroup === undefined) delete entry.hardlinkGroup;
  return snapshot;
}

/** The snapshot as a plain sorted object, for assert.deepEqual and readable diffs. */
export function snapshotObject(snapshot: TreeSnapshot): Record<string, SnapshotEntry> {
  return Object.fromEntries([...snapshot.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Lines saying how two snapshots differ (empty when they are the same). */
export function diffSnapshots(expected: TreeSnapshot, actual: TreeSnapshot): string[] {
  const lines: string[] = [];
  for (const [path, entry] of expected) {
    const other = actual.get(path);
    if (!other) lines.push(`- ${path} (${entry.type}) missing`);
    else if (JSON.stringify(entry) !== JSON.stringify(other))
      lines.push(`~ ${path}: expected ${JSON.stringify(entry)}, got ${JSON.stringify(other)}`);
  }
  for (const [path, entry] of actual) if (!expected.has(path)) lines.push(`+ ${path} (${entry.type}) unexpected`);
  return lines;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
