/**
 * Builds a directory tree holding every kind of entry a layer can carry (and
 * helpers to describe a tree on disk), for the create tests.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, chown, link, lstat, mkdir, readdir, symlink, utimes, writeFile, lutimes } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "../helpers/tools.js";
import { snapshotObject, snapshotTree, type SnapshotEntry } from "../helpers/tree-snapshot.js";

export const DEEP_DIR = [
  "a-directory-name-of-thirty-chars",
  "another-directory-of-thirty-ch",
  "yet-another-directory-thirty-c",
  "and-one-more-of-thirty-charsss",
].join("/");
export const LONG_NAME = "n".repeat(200) + ".txt";
export const NEWLINE_NAME = "new\nline";
export const UNICODE_NAME = "ünïcödé 文件 😀.txt";
/** A fixed time for every entry (2023-11-14T22:13:20Z), so trees can be compared. */
export const FIXED_MTIME = 1_700_000_000;
/** A later time: files with it are clamped by a reproducible build. */
export const FUTURE_MTIME = 1_900_000_000;

/** What a fixture tree holds beyond files and directories (some need root). */
export interface FixtureInfo {
  hasDevice: boolean;
  hasOwner: boolean;
}

/** Fills `root` with the fixture tree. */
export async function makeFixtureTree(root: string): Promise<FixtureInfo> {
  await mkdir(join(root, "dir", "sub"), { recursive: true });
  await writeFile(join(root, "dir", "plain.txt"), "plain text\n");
  await writeFile(join(root, "dir", "sub", "empty"), "");
  await writeFile(join(root, "with space.txt"), "spaces\n");
  await writeFile(join(root, UNICODE_NAME), "unicode\n");
  await writeFile(join(root, NEWLINE_NAME), "newline in the name\n");
  await mkdir(join(root, DEEP_DIR), { recursive: true });
  await writeFile(join(root, DEEP_DIR, "deep-file-with-a-name.txt"), "deep\n");
  await writeFile(join(root, LONG_NAME), "long name\n");
  await writeFile(join(root, "setuid"), "#!/bin/sh\n");
  await chmod(join(root, "setuid"), 0o4755);
  await writeFile(join(root, "setgid"), "sg\n");
  await chmod(join(root, "setgid"), 0o2711);
  await mkdir(join(root, "sticky"));
  await chmod(join(root, "sticky"), 0o1777);
  await mkdir(join(root, "private"));
  await chmod(join(root, "private"), 0o700);
  await writeFile(join(root, "hard-1"), "shared content\n");
  await link(join(root, "hard-1"), join(root, "dir", "hard-2"));
  await link(join(root, "hard-1"), join(root, "hard-3"));
  await symlink("dir/plain.txt", join(root, "link-relative"));
  await symlink("/etc/passwd", join(root, "link-absolute"));
  await symlink("../no/such/target", join(root, "link-dangling"));
  await symlink("x".repeat(150), join(root, "link-long-target"));
  execFileSync("mkfifo", [join(root, "fifo")]);
  // Random bytes: no compression hides a wrong byte.
  await writeFile(
    join(root, "dir", "random.bin"),
    createHash("sha512").update("seed").digest().toString("hex").repeat(3000),
  );
  await writeFile(join(root, "future"), "from the future\n");
  const info: FixtureInfo = { hasDevice: false, hasOwner: false };
  if (isRoot()) {
    execFileSync("mknod", [join(root, "dev-null"), "c", "1", "3"]);
    execFileSync("mknod", [join(root, "dev-loop"), "b", "7", "200"]);
    await writeFile(join(root, "owned"), "owned by 1234:5678\n");
    await chown(join(root, "owned"), 1234, 5678);
    await lchownSafe(join(root, "link-relative"), 4321, 8765);
    info.hasDevice = true;
    info.hasOwner = true;
  }
  await setTimes(root);
  await utimes(join(root, "future"), FUTURE_MTIME, FUTURE_MTIME);
  return info;
}

async function lchownSafe(path: string, uid: number, gid: number): Promise<void> {
  const { lchown } = await import("node:fs/promises");
  await lchown(path, uid, gid);
}

/** Every entry to FIXED_MTIME, children first so a parent's time is not bumped afterwards. */
export async function setTimes(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    const path = join(root, name);
    const info = await lstat(path);
    if (info.isDirectory()) await setTimes(path);
    await lutimes(path, FIXED_MTIME, FIXED_MTIME);
  }
}

/**
 * Every entry under `root` (not the root itself) by relative path: type, mode, owner, size,
 * link target, content digest, hardlink group and, with `mtimes`, whole-second mtimes
 * (what a tar keeps) of every entry.
 */
export async function describeTree(
  root: string,
  options: { mtimes?: boolean } = {},
): Promise<Record<string, SnapshotEntry>> {
  return snapshotObject(
    await snapshotTree(root, { mtimes: options.mtimes ? "all" : false, mtimeUnit: "s", withoutRoot: true }),
  );
}
