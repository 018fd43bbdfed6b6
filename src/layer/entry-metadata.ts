/**
 * Owners, modes and times of applied entries. Never through a symlink: owners
 * with lchown, times with lutimes, and no chmod on a symlink at all (Linux has
 * no lchmod and a symlink's own mode means nothing). chmod comes after chown,
 * because chown clears setuid and setgid. Synchronous, like the rest of the
 * applier: a thread-pool round trip costs more than these calls themselves.
 * Values a file system can't take are refused up front, naming the entry and
 * the field, instead of failing inside a system call.
 */
import { lutimesSync } from "node:fs";
import { InvalidContentError } from "../errors.js";
import type { TarHeader } from "./tar-reader.js";

export interface EntryMetadata {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  atime?: Date;
}

/** Largest owner id chown takes as an id (2^32 - 1 means "leave unchanged"). */
export const MAX_OWNER_ID = 0xffff_fffe;
/** Seconds either side of the epoch a time can be (what a JavaScript Date holds). */
const MAX_TIME_SECONDS = 8.64e12;

/** An entry's metadata, checked; `where` names the entry in messages. */
export function metadataOf(header: TarHeader, where: string, label: string): EntryMetadata {
  for (const field of ["uid", "gid"] as const) {
    const value = header[field];
    if (value < 0 || value > MAX_OWNER_ID)
      throw outOfRange(label, where, field, value, `owner ids go from 0 to ${MAX_OWNER_ID}`);
  }
  return {
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    mtime: timeOf(header.mtime, "mtime", where, label),
    atime: header.atime === undefined ? undefined : timeOf(header.atime, "atime", where, label),
  };
}

/** Device numbers mknod takes (Linux keeps 32 bits of each). */
export function deviceNumbersOf(header: TarHeader, where: string, label: string): { major: number; minor: number } {
  for (const field of ["devmajor", "devminor"] as const) {
    const value = header[field];
    if (value < 0 || value > 0xffff_ffff) throw outOfRange(label, where, field, value, "device numbers are 32-bit");
  }
  return { major: header.devmajor, minor: header.devminor };
}

function timeOf(seconds: number, field: string, where: string, label: string): Date {
  if (!(Math.abs(seconds) <= MAX_TIME_SECONDS))
    throw outOfRange(label, where, field, seconds, `times go to ${MAX_TIME_SECONDS} seconds either side of 1970`);
  return new Date(seconds * 1000);
}

function outOfRange(label: string, where: string, field: string, value: number, range: string): InvalidContentError {
  return new InvalidContentError(
    "LAYER_FIELD_OUT_OF_RANGE",
    `${label}: entry ${where} has ${field} ${value}, which no file system takes (${range})`,
    { where },
  );
}

export function applyTimes(path: string, metadata: EntryMetadata): void {
  lutimesSync(path, metadata.atime ?? metadata.mtime, metadata.mtime);
}

/** PAX records that carry extended attributes (GNU tar's and libarchive's spellings). */
export function xattrNamesOf(pax: Record<string, string>): string[] {
  const names: string[] = [];
  for (const key of Object.keys(pax)) {
    if (key.startsWith("SCHILY.xattr.")) names.push(key.slice("SCHILY.xattr.".length));
    else if (key.startsWith("LIBARCHIVE.xattr.")) names.push(key.slice("LIBARCHIVE.xattr.".length));
  }
  return names;
}
