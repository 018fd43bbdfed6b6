/**
 * Owners, modes and times of applied entries. Never through a symlink: owners
 * with lchown, times with lutimes, and no chmod on a symlink at all (Linux has
 * no lchmod and a symlink's own mode means nothing). chmod comes after chown,
 * because chown clears setuid and setgid.
 */
import { chmod, lchown, lutimes } from "node:fs/promises";

export interface EntryMetadata {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  atime?: Date;
}

export interface MetadataPolicy {
  /** Apply owners (root); otherwise they are only recorded. */
  chown: boolean;
}

/** Applies owner and mode; times are separate (directories get theirs last). */
export async function applyOwnerAndMode(path: string, isSymlink: boolean, metadata: EntryMetadata, policy: MetadataPolicy): Promise<void> {
  if (policy.chown) await lchown(path, metadata.uid, metadata.gid);
  if (!isSymlink) await chmod(path, metadata.mode & 0o7777);
}

export async function applyTimes(path: string, metadata: EntryMetadata): Promise<void> {
  await lutimes(path, metadata.atime ?? metadata.mtime, metadata.mtime);
}

/** PAX records that carry extended attributes (GNU tar's and libarchive's spellings). */
export function xattrNamesOf(pax: unknown): string[] {
  if (!pax || typeof pax !== "object") return [];
  const names: string[] = [];
  for (const key of Object.keys(pax)) {
    if (key.startsWith("SCHILY.xattr.")) names.push(key.slice("SCHILY.xattr.".length));
    else if (key.startsWith("LIBARCHIVE.xattr.")) names.push(key.slice("LIBARCHIVE.xattr.".length));
  }
  return names;
}

/** A PAX time (`1700000000.123`) as a Date, when well formed. */
export function paxTime(value: unknown): Date | undefined {
  if (typeof value !== "string" || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  const date = new Date(Number(value) * 1000);
  return Number.isFinite(date.getTime()) ? date : undefined;
}
