/**
 * What this layer wrote, so its whiteouts hide lower layers only: a whiteout
 * spares this layer's own entries (and their implicit parent directories),
 * and an opaque whiteout empties its directory of lower children at the
 * layer's end, wherever it stood in the tar.
 */
import { mkdirSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { UnsafeLayerError } from "../errors.js";
import { formatEntryPath } from "./entry-name.js";
import { lstatOrUndefined, resolveInRoot, type ResolvedPath } from "./root-resolver.js";

export interface WhiteoutHost {
  readonly root: string;
  readonly label: string;
  /** An existing directory this layer is about to change. */
  touch(directory: ResolvedPath): void;
  remove(path: string): Promise<void>;
}

export class WhiteoutTracker {
  /** Real paths under the rootfs this layer wrote. */
  private readonly created = new Set<string>();
  /** Every ancestor of a created path: implicit directories of this layer. */
  private readonly ancestors = new Set<string>();
  private readonly opaque = new Map<string, string[]>();

  constructor(private readonly host: WhiteoutHost) {}

  record(parts: string[]): void {
    this.created.add(parts.join("/"));
    this.recordAncestors(parts.slice(0, -1));
  }

  /** `parts` and each of its ancestors are directories of this layer. */
  recordAncestors(parts: string[]): void {
    for (let i = 1; i <= parts.length; i++) this.ancestors.add(parts.slice(0, i).join("/"));
  }

  forget(parts: string[]): void {
    this.created.delete(parts.join("/"));
  }

  /** `d/.wh.name`: removes `d/name` of the lower layers, not this layer's own. */
  async whiteout(target: string[]): Promise<void> {
    const parent = await resolveInRoot(this.host.root, target.slice(0, -1), { followLast: true });
    if (!parent.stats?.isDirectory()) return;
    const key = [...parent.parts, target[target.length - 1]!].join("/");
    if (this.created.has(key) || this.ancestors.has(key)) return;
    this.host.touch(parent);
    await this.host.remove(join(parent.path, target[target.length - 1]!));
  }

  /** `d/.wh..wh..opq`: `d` is (made) a directory whose lower children go at the layer's end. */
  async markOpaque(directoryParts: string[]): Promise<void> {
    const directory = await resolveInRoot(this.host.root, directoryParts, { followLast: true });
    if (directory.stats && !directory.stats.isDirectory()) {
      const where = formatEntryPath(directoryParts);
      throw new UnsafeLayerError(
        "LAYER_BAD_WHITEOUT",
        `${this.host.label}: opaque whiteout in ${where}, which is not a directory`,
        { where },
      );
    }
    if (!directory.stats) mkdirSync(directory.path, { recursive: true, mode: 0o755 });
    else this.host.touch(directory);
    this.recordAncestors(directory.parts);
    this.opaque.set(directory.parts.join("/"), directory.parts);
  }

  /** Opaque directories emptied of lower children. */
  async finish(): Promise<void> {
    for (const parts of this.opaque.values()) {
      const directory = await resolveInRoot(this.host.root, parts);
      if (directory.parts.join("/") !== parts.join("/") || !directory.stats?.isDirectory()) continue;
      await this.hideLowerChildren(directory.path, parts.join("/"));
    }
  }

  private async hideLowerChildren(path: string, key: string): Promise<void> {
    for (const name of await readdir(path)) {
      const childKey = key === "" ? name : `${key}/${name}`;
      const childPath = join(path, name);
      if (this.ancestors.has(childKey) || this.created.has(childKey)) {
        const stats = await lstatOrUndefined(childPath);
        if (stats?.isDirectory()) await this.hideLowerChildren(childPath, childKey);
        continue;
      }
      await this.host.remove(childPath);
    }
  }
}
