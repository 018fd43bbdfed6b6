/**
 * What a push sends, read from the layout: the image (or one platform of it),
 * its documents in the order they must arrive (children before the index that
 * names them), and its other blobs, each read through its digest check as it
 * is sent.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { InvalidContentError, NotFoundError, OciImageError, fileSystemErrorOf } from "../errors.js";
import { VerifyingStream } from "../image/digest.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import type { PlatformSpec } from "../image/platform.js";
import type { Descriptor } from "../image/types.js";
import type { ImageLayout } from "../layout/layout.js";
import { resolveImage } from "../layout/resolve-image.js";
import { walkReachable } from "../layout/walk.js";

export interface PushDocument {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface PushPlan {
  /** The document pushed under the tag: the last of `documents`. */
  top: PushDocument;
  /** Manifests and indexes, children before parents. */
  documents: PushDocument[];
  /** Configs, layers and any other blob, each once. */
  blobs: Descriptor[];
}

function isDocument(descriptor: Descriptor): boolean {
  return isManifestMediaType(descriptor.mediaType) || isIndexMediaType(descriptor.mediaType);
}

/** The plan for `entry` (an index.json entry), or for its image of `platform`. */
export async function planPush(layout: ImageLayout, entry: Descriptor, platform?: PlatformSpec): Promise<PushPlan> {
  let root = entry;
  if (!isDocument(root))
    throw new InvalidContentError(
      "MEDIA_TYPE_UNSUPPORTED",
      `${entry.digest} has media type ${entry.mediaType}, not an image manifest or index`,
      { where: entry.digest },
    );
  if (platform) root = (await resolveImage(layout, entry, platform)).manifestDescriptor;
  const documents: PushDocument[] = [];
  const blobs: Descriptor[] = [];
  for await (const { descriptor } of walkReachable(layout, root)) {
    if (isDocument(descriptor)) documents.push({ descriptor, bytes: await layout.readBlob(descriptor) });
    // Foreign layers are fetched by whoever runs the image from their own URLs; fetch does not store them.
    else if (!/foreign|nondistributable/.test(descriptor.mediaType)) blobs.push(descriptor);
  }
  documents.reverse();
  const top = documents[documents.length - 1]!;
  // A platform picked from an index is pushed as a plain manifest: without the index entry's platform field.
  top.descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
  return { top, documents, blobs };
}

/**
 * Bytes per read of a blob file: a quarter of the reads, hash updates and
 * socket writes of the 64 KiB default; larger reads leave more garbage between
 * collections (1 MiB: about 8 MiB more at the peak of a 500 MB push).
 */
const READ_SIZE = 256 * 1024;

/**
 * A stream of a blob's bytes [start, end). The whole blob's stream is the
 * blob's digest check: it holds its last chunk back until the bytes match, so
 * an upload of it never completes otherwise, and its errors name the file.
 */
export function openLayoutBlob(layout: ImageLayout, descriptor: Descriptor, start = 0, end?: number): Readable {
  const path = layout.blobPath(descriptor.digest);
  const whole = start === 0 && (end === undefined || end >= descriptor.size);
  const last = end === undefined ? undefined : end - 1;
  const file = createReadStream(path, { start, end: last, highWaterMark: READ_SIZE });
  if (!whole) return file;
  const describe = (actual: string) =>
    `${path}: content digest is ${actual}, but its descriptor says ${descriptor.digest}; the layout is damaged`;
  const verifying = new VerifyingStream(descriptor, path, describe, { what: path, holdLast: true });
  file.on("error", (error) => verifying.destroy(blobProblem(layout, descriptor, error) as Error));
  verifying.on("close", () => file.destroy());
  return file.pipe(verifying);
}

function blobProblem(layout: ImageLayout, descriptor: Descriptor, error: unknown): unknown {
  const path = layout.blobPath(descriptor.digest);
  if (error instanceof OciImageError) return error;
  if ((error as NodeJS.ErrnoException).code === "ENOENT")
    return new NotFoundError("BLOB_UNKNOWN", `${path}: blob ${descriptor.digest} is missing from the layout`, {
      where: path,
    });
  return fileSystemErrorOf(error, path) ?? error;
}
