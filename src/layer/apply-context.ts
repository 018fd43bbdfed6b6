/**
 * The state one layer is applied with, and the two steps every entry takes:
 * its parent resolved inside the rootfs (created 0755 when missing), then
 * what stands at its name removed unless both are directories. Every path is
 * resolved one component at a time (root-resolver.ts), so nothing a layer
 * says can write, link, chmod or delete outside the rootfs.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UnsafeLayerError } from "../errors.js";
import type { ApplyMode } from "./apply-mode.js";
import { DirectoryTimes } from "./directory-times.js";
import type { EventLoopPacer } from "./event-loop-pacer.js";
import { formatEntryPath } from "./entry-name.js";
import { ParentCache } from "./parent-cache.js";
import { lstatOrUndefined, type ResolvedPath } from "./root-resolver.js";
import { SpecialFileMaker } from "./special-files.js";
import { WhiteoutTracker } from "./whiteout-tracker.js";

export interface PreparedTarget {
  /** Host path of the entry. */
  path: string;
  /** Real components under the rootfs. */
  parts: string[];
  /** A directory was there and is kept. */
  existingDirectory: boolean;
}

export class ApplyContext {
  entries = 0;
  /** Entries skipped with a warning. */
  skipped = 0;
  readonly xattrs = new Set<string>();
  readonly parents: ParentCache;
  readonly times: DirectoryTimes;
  readonly whiteouts: WhiteoutTracker;
  readonly specialFiles = new SpecialFileMaker();

  constructor(
    readonly root: string,
    readonly label: string,
    readonly mode: ApplyMode,
    pacer: EventLoopPacer,
    private readonly onWarning?: (message: string) => void,
  ) {
    this.parents = new ParentCache(root);
    this.times = new DirectoryTimes(root, pacer);
    this.whiteouts = new WhiteoutTracker(this);
  }

  warn(message: string): void {
    this.onWarning?.(`${this.label}: ${message}`);
  }

  /** An existing directory this layer changes: its times are kept, and it is opened for writing if need be. */
  touch(directory: ResolvedPath): void {
    this.times.noteChange(directory);
    this.mode.writeInto(directory);
  }

  /** rm -r, never following a symlink; the parent cache is dropped when what goes can change a resolution. */
  async remove(path: string, changesResolution = true): Promise<void> {
    if (changesResolution) this.parents.clear();
    await this.mode.remove(path);
  }

  /** The real parent directory of an entry, created (0755) when missing. */
  async parentOf(parts: string[]): Promise<ResolvedPath> {
    const directory = parts.slice(0, -1);
    const cached = this.parents.get(directory);
    if (cached) return cached;
    const parent = await this.parents.resolve(directory);
    if (parent.stats === undefined) {
      mkdirSync(parent.path, { recursive: true, mode: 0o755 });
      this.whiteouts.recordAncestors(parent.parts);
      parent.stats = await lstatOrUndefined(parent.path);
    } else if (!parent.stats.isDirectory()) {
      const where = formatEntryPath(parts);
      throw new UnsafeLayerError(
        "LAYER_PARENT_NOT_DIRECTORY",
        `${this.label}: ${where} needs ${formatEntryPath(parent.parts)} to be a directory, but it is not (a layer may not put entries under a file)`,
        { where },
      );
    } else {
      this.touch(parent);
    }
    this.parents.set(directory, parent);
    return parent;
  }

  /** Where an entry goes, with what was at its name removed (a directory over a directory is kept). */
  async prepare(parts: string[], keepDirectory: boolean): Promise<PreparedTarget> {
    const parent = await this.parentOf(parts);
    const name = parts[parts.length - 1]!;
    const realParts = [...parent.parts, name];
    const path = join(parent.path, name);
    const existing = await lstatOrUndefined(path);
    let existingDirectory = false;
    if (existing) {
      if (keepDirectory && existing.isDirectory()) existingDirectory = true;
      else await this.remove(path, existing.isDirectory() || existing.isSymbolicLink());
    }
    this.whiteouts.record(realParts);
    return { path, parts: realParts, existingDirectory };
  }

  /** Layer end: opaque directories emptied, directories reopened closed, then directory modes and times. */
  async finish(): Promise<void> {
    await this.whiteouts.finish();
    await this.mode.finish(this.root, (message) => this.warn(message));
    await this.times.finish();
    if (this.xattrs.size > 0) {
      const names = [...this.xattrs].slice(0, 5).join(", ") + (this.xattrs.size > 5 ? ", …" : "");
      this.warn(`extended attributes not applied (${names}): Node.js cannot set them`);
    }
  }

  /** Every entry is applied (or the layer failed): helpers still running can go. */
  close(): void {
    this.specialFiles.close();
  }
}
