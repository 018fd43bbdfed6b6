/**
 * Owners, modes and times of applied entries. Never through a symlink: owners
 * with lchown, times with lutimes, and no chmod on a symlink at all (Linux has
 * no lchmod and a symlink's own mode means nothing). chmod comes after chown,
 * because chown clears setuid and setgid. Synchronous, like the rest of the
 * applier: a thread-pool round trip costs more than these calls themselves.
 */
import { chmodSync, lchownSync, lutimesSync } from "node:fs";

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
export function applyOwnerAndMode(
  path: string,
  isSymlink: boolean,
  metadata: EntryMetadata,
  policy: MetadataPolicy,
): void {
  if (policy.chown) lchownSync(path, metadata.uid, metadata.gid);
  if (!isSymlink) chmodSync(path, metadata.mode & 0o7777);
}

export function applyTimes(path: string, metadata: EntryMetadata): void {
  lutimesSync(path, metadata.atime ?? metadata.mtime, metadata.mtime);
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
