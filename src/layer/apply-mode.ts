/**
 * Root or rootless, chosen once per layer: everything the two ways of
 * applying do differently lives here, so the applier never asks which one
 * it is. As root, owners are applied and device nodes made. Without root,
 * owners other than 0:0 are recorded (not applied), device nodes are skipped,
 * read-only lower directories are opened for writing until the layer ends,
 * and trees a layer made read-only are opened before they are removed.
 */
import { chmodSync, fchownSync, lchownSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { EntryMetadata } from "./entry-metadata.js";
import { formatEntryPath } from "./entry-name.js";
import { removeTree } from "./make-tree-writable.js";
import { resolveInRoot, type ResolvedPath } from "./root-resolver.js";

export interface ApplyMode {
  /** Owner of a new entry at `path`, never through a symlink; `fd` when the entry is open. */
  own(target: { path: string; parts: string[]; fd?: number }, metadata: EntryMetadata): void;
  /** A lower directory (just resolved) this layer is about to write into. */
  writeInto(directory: ResolvedPath): void;
  /** rm -r that never follows a symlink. */
  remove(path: string): Promise<void>;
  /** Why a device node can't be made, or undefined when it can. */
  readonly deviceSkipReason?: string;
  /** Layer end: what was opened is closed again; what was not applied is reported. */
  finish(root: string, warn: (message: string) => void): Promise<void>;
}

export function rootMode(): ApplyMode {
  return {
    own(target, metadata) {
      if (target.fd !== undefined) fchownSync(target.fd, metadata.uid, metadata.gid);
      else lchownSync(target.path, metadata.uid, metadata.gid);
    },
    writeInto() {},
    remove: (path) => rm(path, { recursive: true, force: true }),
    async finish() {},
  };
}

export class RootlessMode implements ApplyMode {
  readonly deviceSkipReason = "device nodes need root";
  private unappliedOwners = 0;
  /** Read-only lower directories opened for writing (by real path under the rootfs), and their modes. */
  private readonly reopened = new Map<string, { parts: string[]; mode: number }>();

  constructor(private readonly onOwner?: (path: string, uid: number, gid: number) => void) {}

  own(target: { parts: string[] }, metadata: EntryMetadata): void {
    if (metadata.uid === 0 && metadata.gid === 0) return;
    this.unappliedOwners++;
    this.onOwner?.(formatEntryPath(target.parts), metadata.uid, metadata.gid);
  }

  writeInto(directory: ResolvedPath): void {
    const key = directory.parts.join("/");
    if (!directory.stats || (directory.stats.mode & 0o300) === 0o300 || this.reopened.has(key)) return;
    this.reopened.set(key, { parts: directory.parts, mode: directory.stats.mode & 0o7777 });
    chmodSync(directory.path, (directory.stats.mode & 0o7777) | 0o700);
  }

  remove(path: string): Promise<void> {
    return removeTree(path);
  }

  async finish(root: string, warn: (message: string) => void): Promise<void> {
    // Every path is resolved again: a component may have become a symlink since it was noted.
    for (const [key, { parts, mode }] of this.reopened) {
      const resolved = await resolveInRoot(root, parts);
      if (resolved.parts.join("/") === key && resolved.stats?.isDirectory()) chmodSync(resolved.path, mode);
    }
    if (this.unappliedOwners > 0)
      warn(`${this.unappliedOwners} entries owned by other users than root: owners recorded, not applied (rootless)`);
  }
}
