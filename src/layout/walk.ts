/** Everything an index entry reaches: nested indexes, manifests, configs, layers. */
import { checkIndexDepth } from "../image/index-depth.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import type { Descriptor, ImageIndex, ImageManifest } from "../image/types.js";
import type { BlobStore } from "./blob-store.js";

export interface ReachedBlob {
  descriptor: Descriptor;
  /** The digest of the document that points at it (undefined for the root). */
  parent?: string;
  /** JSON pointer inside the parent, e.g. `/layers/2`. */
  pointer?: string;
  /** Indexes above it (0 for the root). */
  depth?: number;
}

/**
 * Yields each blob reachable from `root` once, parents before children. Index
 * and manifest documents are read verified; a blob is yielded before it is read,
 * so a caller can check it exists first. Indexes nesting deeper than
 * MAX_INDEX_DEPTH are refused (INDEX_TOO_DEEP).
 */
export async function* walkReachable(store: BlobStore, root: Descriptor): AsyncGenerator<ReachedBlob> {
  const seen = new Set<string>();
  const queue: ReachedBlob[] = [{ descriptor: root }];
  while (queue.length > 0) {
    const reached = queue.shift()!;
    const { descriptor } = reached;
    if (seen.has(descriptor.digest)) continue;
    seen.add(descriptor.digest);
    yield reached;
    if (isIndexMediaType(descriptor.mediaType)) {
      const depth = reached.depth ?? 0;
      checkIndexDepth(depth, descriptor.digest);
      const index = await store.readJsonBlob<ImageIndex>(descriptor);
      (index.manifests ?? []).forEach((child, i) =>
        queue.push({ descriptor: child, parent: descriptor.digest, pointer: `/manifests/${i}`, depth: depth + 1 }),
      );
    } else if (isManifestMediaType(descriptor.mediaType)) {
      const manifest = await store.readJsonBlob<ImageManifest>(descriptor);
      if (manifest.config) queue.push({ descriptor: manifest.config, parent: descriptor.digest, pointer: "/config" });
      (manifest.layers ?? []).forEach((layer, i) =>
        queue.push({ descriptor: layer, parent: descriptor.digest, pointer: `/layers/${i}` }),
      );
    }
  }
}
