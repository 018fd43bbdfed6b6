/**
 * Resolved parent directories of a layer's entries, by the entry's (clean)
 * parent path. Valid while nothing that is a directory or a symlink is
 * removed: creating at a missing name can't change how an existing path
 * resolves, so the owner of the cache clears it whenever one goes away.
 */
import { resolveInRoot, type ResolvedPath } from "./root-resolver.js";

export class ParentCache {
  private readonly parents = new Map<string, ResolvedPath>();

  constructor(private readonly root: string) {}

  get(parts: readonly string[]): ResolvedPath | undefined {
    return this.parents.get(parts.join("/"));
  }

  set(parts: readonly string[], resolved: ResolvedPath): void {
    this.parents.set(parts.join("/"), resolved);
  }

  clear(): void {
    this.parents.clear();
  }

  /** Resolves `directory` (following a symlink at its end), starting from its nearest cached ancestor. */
  async resolve(directory: readonly string[]): Promise<ResolvedPath> {
    let depth = directory.length - 1;
    while (depth > 0 && !this.parents.has(directory.slice(0, depth).join("/"))) depth--;
    const ancestor = depth > 0 ? this.parents.get(directory.slice(0, depth).join("/")) : undefined;
    return ancestor
      ? resolveInRoot(this.root, directory.slice(depth), { followLast: true, from: ancestor.parts })
      : resolveInRoot(this.root, directory, { followLast: true });
  }
}
