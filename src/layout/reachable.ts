/**
 * Every blob a set of descriptors reaches: indexes (their manifests), manifests
 * (config, layers), the `subject` of either, and any descriptor whose media type
 * is a manifest or index, wherever it appears. What gc keeps, and what addRef
 * checks is all there before a ref names it.
 */
import { InvalidContentError } from "../errors.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import type { Descriptor } from "../image/types.js";
import type { BlobStore } from "./blob-store.js";

/** Reaching more documents than this from one layout is a hostile layout, not a store. */
const MAX_DOCUMENTS = 100_000;

export interface Reachable {
  /** Digest -> declared size of every blob reached (present or not). */
  blobs: Map<string, number>;
  /** Reached descriptors whose blob is missing or not of its declared size. */
  missing: Descriptor[];
}

/**
 * `skipUnreadable`: a document that cannot be read as JSON is not walked into
 * (for addRef, which checks presence only); without it such a document stops
 * the walk (gc must not guess what it names).
 */
export async function findReachable(
  store: BlobStore,
  roots: readonly Descriptor[],
  options: { subjects?: boolean; skipUnreadable?: boolean } = {},
): Promise<Reachable> {
  const blobs = new Map<string, number>();
  const missing: Descriptor[] = [];
  const queue = [...roots];
  let documents = 0;
  while (queue.length > 0) {
    const descriptor = queue.shift()!;
    if (blobs.has(descriptor.digest)) continue;
    blobs.set(descriptor.digest, descriptor.size);
    if (!(await store.hasBlob(descriptor.digest, descriptor.size))) {
      // Foreign and non-distributable layers are never downloaded (pull.ts): their absence is expected.
      if (!/foreign|nondistributable/.test(descriptor.mediaType)) missing.push(descriptor);
      continue;
    }
    if (!isIndexMediaType(descriptor.mediaType) && !isManifestMediaType(descriptor.mediaType)) continue;
    if (++documents > MAX_DOCUMENTS)
      throw new InvalidContentError("INDEX_TOO_DEEP", `the layout reaches over ${MAX_DOCUMENTS} documents`, {
        where: descriptor.digest,
      });
    try {
      queue.push(...childrenOf(await store.readJsonBlob(descriptor), descriptor.digest, options.subjects !== false));
    } catch (error) {
      // A document that does not parse names nothing one could check (validate reports it).
      if (options.skipUnreadable) continue;
      if (error instanceof Error && !error.message.includes(descriptor.digest))
        error.message = `${descriptor.digest}: ${error.message}`;
      throw error;
    }
  }
  return { blobs, missing };
}

/** The descriptors a manifest or index document points at. */
function childrenOf(document: unknown, digest: string, subjects: boolean): Descriptor[] {
  if (typeof document !== "object" || document === null || Array.isArray(document))
    throw new InvalidContentError("DOCUMENT_KIND", `${digest} is not a JSON object: the layout is damaged`, {
      where: digest,
    });
  const { manifests, config, layers, subject, blobs } = document as Record<string, unknown>;
  const found = [
    ...(Array.isArray(manifests) ? manifests : []),
    ...(Array.isArray(layers) ? layers : []),
    ...(Array.isArray(blobs) ? blobs : []),
    config,
    subjects ? subject : undefined,
  ];
  return found.filter(isDescriptor);
}

function isDescriptor(value: unknown): value is Descriptor {
  const candidate = value as Descriptor | undefined;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.digest === "string" &&
    typeof candidate.size === "number" &&
    typeof candidate.mediaType === "string"
  );
}
