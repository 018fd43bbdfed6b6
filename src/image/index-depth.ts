/** How deep image indexes may nest, for every walk from an index entry down to its manifests. */
import { InvalidContentError } from "../errors.js";

/**
 * An index may point at indexes (a layout's index.json at a multi-platform
 * index, that at manifests); deeper than this is a loop or an attack.
 */
export const MAX_INDEX_DEPTH = 8;

/** Throws INDEX_TOO_DEEP when an index at `depth` (0: the first one reached) is one too many. */
export function checkIndexDepth(depth: number, where?: string): void {
  if (depth >= MAX_INDEX_DEPTH) {
    throw new InvalidContentError(
      "INDEX_TOO_DEEP",
      `${where ? `${where}: ` : ""}image indexes nest deeper than ${MAX_INDEX_DEPTH}`,
      { where },
    );
  }
}
