/**
 * One function per kind of entry, each writing it at its place in the rootfs
 * (apply-context.ts resolves the place and clears it). Synchronous calls on
 * purpose: entries are applied one at a time anyway, and a thread-pool round
 * trip per small write or metadata call is what made this latency-bound.
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  futimesSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { InvalidContentError, UnsafeLayerError } from "../errors.js";
import type { ApplyContext } from "./apply-context.js";
import { formatEntryPath } from "./entry-name.js";
import { applyTimes, type EntryMetadata } from "./entry-metadata.js";
import { resolveInRoot } from "./root-resolver.js";
import type { SpecialKind } from "./special-files.js";
import type { TarEntry } from "./tar-reader.js";

export async function writeFile(
  context: ApplyContext,
  parts: string[],
  entry: TarEntry,
  metadata: EntryMetadata,
): Promise<void> {
  const target = await context.prepare(parts, false);
  const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
  const fd = openSync(target.path, flags, 0o600);
  try {
    for await (const chunk of entry.body()) {
      let offset = 0;
      try {
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
      } catch (error) {
        throw tooLarge(error, context.label, formatEntryPath(parts), entry.header.size);
      }
    }
    // Metadata through the descriptor of the file just made (O_EXCL|O_NOFOLLOW: never a symlink); chown before chmod.
    context.mode.own({ path: target.path, parts: target.parts, fd }, metadata);
    fchmodSync(fd, metadata.mode & 0o7777);
    futimesSync(fd, metadata.atime ?? metadata.mtime, metadata.mtime);
  } finally {
    closeSync(fd);
  }
}

/** EFBIG: the size field asks for more than the file system holds in one file. */
function tooLarge(error: unknown, label: string, where: string, size: number): unknown {
  if ((error as NodeJS.ErrnoException).code !== "EFBIG") return error;
  return new InvalidContentError(
    "LAYER_FIELD_OUT_OF_RANGE",
    `${label}: entry ${where} has size ${size}, more than this file system holds in one file`,
    { where, cause: error },
  );
}

export async function writeDirectory(context: ApplyContext, parts: string[], metadata: EntryMetadata): Promise<void> {
  let target = { path: context.root, parts: [] as string[] };
  if (parts.length > 0) {
    const prepared = await context.prepare(parts, true);
    if (!prepared.existingDirectory) mkdirSync(prepared.path, { mode: 0o700 });
    target = prepared;
  }
  // Owner now; mode and times once the children are written (a 0555 directory stays writable till then).
  context.mode.own(target, metadata);
  context.times.defer(target.parts, metadata);
}

/** The target is stored verbatim: it is resolved inside the rootfs only when followed (here or in the container). */
export async function writeSymlink(
  context: ApplyContext,
  parts: string[],
  linkname: string,
  metadata: EntryMetadata,
): Promise<void> {
  const target = await context.prepare(parts, false);
  symlinkSync(linkname, target.path);
  context.mode.own(target, metadata);
  applyTimes(target.path, metadata);
}

/** link(2) does not follow a symlink source; the link shares the source's metadata, so none is set. */
export async function writeHardlink(context: ApplyContext, parts: string[], linkParts: string[]): Promise<void> {
  const where = formatEntryPath(parts);
  const refuse = (why: string) =>
    new UnsafeLayerError("LAYER_BAD_LINK", `${context.label}: hardlink ${where} points at ${why}`, { where });
  const source = await resolveInRoot(context.root, linkParts);
  if (!source.stats) throw refuse(`${formatEntryPath(linkParts)}, which does not exist (yet) in the rootfs`);
  if (source.stats.isDirectory()) throw refuse(`the directory ${formatEntryPath(linkParts)}`);
  const parent = await context.parentOf(parts);
  if (join(parent.path, parts[parts.length - 1]!) === source.path) return;
  const target = await context.prepare(parts, false);
  linkSync(source.path, target.path);
}

export async function writeSpecial(
  context: ApplyContext,
  parts: string[],
  kind: SpecialKind,
  metadata: EntryMetadata,
): Promise<void> {
  const where = formatEntryPath(parts);
  const skip = kind.type === "fifo" ? undefined : context.mode.deviceSkipReason;
  if (skip) {
    context.skipped++;
    context.warn(`${where}: ${kind.type} skipped (${skip})`);
    return;
  }
  const target = await context.prepare(parts, false);
  // The final component was just removed, and mknod never follows it.
  const made = await context.specialFiles.make(target.path, kind);
  if (!made.ok) {
    context.skipped++;
    context.whiteouts.forget(target.parts);
    context.warn(`${where}: ${kind.type} not created (${made.message})`);
    return;
  }
  context.mode.own(target, metadata);
  chmodSync(target.path, metadata.mode & 0o7777);
  applyTimes(target.path, metadata);
}
