/** A layout entry's documents for `inspect`: bytes exactly as stored, each verified against its digest. */
import type { DocumentSource } from "../image/inspect.js";
import type { ImageLayout } from "./layout.js";

export function layoutDocuments(layout: ImageLayout, tag: string | undefined): DocumentSource {
  return {
    async top() {
      const descriptor = await layout.resolveRef(tag);
      return { bytes: await layout.readBlob(descriptor), digest: descriptor.digest, mediaType: descriptor.mediaType };
    },
    read: (descriptor) => layout.readBlob(descriptor),
  };
}
