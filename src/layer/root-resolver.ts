/**
 * Path resolution confined to a root directory, as if the process were
 * chrooted there: one component at a time with lstat, a symlink component is
 * read and its target resolved again relative to the root (an absolute target
 * starts over at the root, `..` never climbs above it), with a loop limit.
 * A lexical check alone is never trusted: a directory replaced by a symlink
 * between two entries is seen because every component is looked at again.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { Stats } from "node:fs";
import { UnsafeLayerError } from "../errors.js";
import { formatEntryPath } from "./entry-name.js";

/** Symlinks followed while resolving one path (Linux allows 40). */
export const MAX_SYMLINK_FOLLOWS = 40;

export interface ResolvedPath {
  /** Real components under the root; every one but the last is a directory that exists. */
  parts: string[];
  /** The host path: root joined with `parts`. */
  path: string;
  /** lstat of the last component, undefined when it does not exist. */
  stats?: Stats;
  /** Whether a parent component was missing (and the rest was taken as written). */
  missingParent: boolean;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (reading files); default false (writing entries). */
  followLast?: boolean;
  /**
   * Real components of a directory `parts` is relative to, resolved before by
   * this function and known unchanged since (the caller's cache): its
   * components are not looked at again.
   */
  from?: readonly string[];
}

/** Resolves `parts` (already cleaned) under `root` without leaving it. */
export async function resolveInRoot(
  root: string,
  parts: readonly string[],
  options: ResolveOptions = {},
): Promise<ResolvedPath> {
  const resolved: string[] = [...(options.from ?? [])];
  const pending = [...parts];
  let follows = 0;
  let stats: Stats | undefined;
  let missingParent = false;
  let missingAt = 0;
  let known = false;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      if (missingParent && resolved.length <= missingAt) missingParent = false;
      known = false;
      continue;
    }
    const isLast = pending.length === 0;
    if (missingParent) {
      resolved.push(part);
      stats = undefined;
      known = true;
      continue;
    }
    const candidate = join(root, ...resolved, part);
    stats = await lstatOrUndefined(candidate);
    known = true;
    if (!stats) {
      // Nothing below a missing component exists; the rest is lexical (no symlinks to meet).
      if (!isLast) {
        missingParent = true;
        missingAt = resolved.length;
      }
      resolved.push(part);
      continue;
    }
    if (stats.isSymbolicLink() && (!isLast || options.followLast)) {
      if (++follows > MAX_SYMLINK_FOLLOWS) throw symlinkLoop(parts);
      const target = readlinkSync(candidate);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...target.split("/"));
      known = false;
      continue;
    }
    if (!isLast && !stats.isDirectory()) throw notDirectory(parts, [...resolved, part]);
    resolved.push(part);
  }
  // `..` as the last step leaves stats unknown: look again.
  const path = join(root, ...resolved);
  if (!known) stats = await lstatOrUndefined(path);
  return { parts: resolved, path, stats, missingParent };
}

function symlinkLoop(parts: readonly string[]): UnsafeLayerError {
  const where = formatEntryPath(parts);
  return new UnsafeLayerError(
    "LAYER_SYMLINK_LOOP",
    `resolving ${where} follows more than ${MAX_SYMLINK_FOLLOWS} symlinks`,
    { where },
  );
}

function notDirectory(parts: readonly string[], parent: string[]): UnsafeLayerError {
  const where = formatEntryPath(parts);
  return new UnsafeLayerError(
    "LAYER_PARENT_NOT_DIRECTORY",
    `${where} needs ${formatEntryPath(parent)} to be a directory, but it is not (a layer may not put entries under a file)`,
    { where },
  );
}

/** lstat, undefined when missing. Synchronous: one tiny syscall is cheaper than a thread-pool round trip. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  return stats ?? undefined;
}
