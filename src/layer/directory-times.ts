/**
 * Directory metadata that must wait for the layer's end: a directory entry's
 * mode and times are set after its children are written (a 0555 directory
 * stays writable till then), and a lower directory this layer changed but did
 * not list gets back the times it had. Deepest first, every path resolved
 * again, never through a symlink.
 */
import { chmodSync } from "node:fs";
import { applyTimes, type EntryMetadata } from "./entry-metadata.js";
import type { EventLoopPacer } from "./event-loop-pacer.js";
import { resolveInRoot, type ResolvedPath } from "./root-resolver.js";

export class DirectoryTimes {
  private readonly directories = new Map<string, { parts: string[]; metadata: EntryMetadata }>();
  private readonly touched = new Map<string, { parts: string[]; atime: Date; mtime: Date }>();

  constructor(
    private readonly root: string,
    private readonly pacer: EventLoopPacer,
  ) {}

  /** A directory entry of this layer: its mode and times are applied at the end (the last entry for a path wins). */
  defer(parts: string[], metadata: EntryMetadata): void {
    const key = parts.join("/");
    this.directories.delete(key);
    this.directories.set(key, { parts, metadata });
  }

  /** An existing directory about to change: its times before the first change. */
  noteChange(directory: ResolvedPath): void {
    const key = directory.parts.join("/");
    if (!directory.stats || this.touched.has(key)) return;
    this.touched.set(key, { parts: directory.parts, atime: directory.stats.atime, mtime: directory.stats.mtime });
  }

  async finish(): Promise<void> {
    const directories = [...this.directories.values()].sort((a, b) => b.parts.length - a.parts.length);
    for (const { parts, metadata } of directories) {
      await this.pacer.pace();
      const resolved = await this.resolveDirectory(parts);
      if (!resolved) continue;
      chmodSync(resolved, metadata.mode & 0o7777);
      applyTimes(resolved, metadata);
    }
    for (const [key, { parts, atime, mtime }] of this.touched) {
      if (this.directories.has(key)) continue;
      await this.pacer.pace();
      const resolved = await this.resolveDirectory(parts);
      if (resolved) applyTimes(resolved, { mode: 0, uid: 0, gid: 0, atime, mtime });
    }
  }

  /** The host path of `parts` when it still is that directory (no symlink on the way). */
  private async resolveDirectory(parts: string[]): Promise<string | undefined> {
    const resolved = await resolveInRoot(this.root, parts);
    if (resolved.parts.join("/") !== parts.join("/") || !resolved.stats?.isDirectory()) return undefined;
    return resolved.path;
  }
}
