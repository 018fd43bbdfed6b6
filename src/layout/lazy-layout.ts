/**
 * A layout that is created only when the first blob is written, so that an
 * operation failing before it has anything to store (unknown image, wrong
 * password) leaves no empty layout behind.
 */
import { readdir } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ExpectedContent } from "../image/digest.js";
import type { Descriptor } from "../image/types.js";
import { isNotFound, type FillParts, type PutBlobOptions, type StoredBlob } from "./blob-store.js";
import { ImageLayout } from "./layout.js";

export interface LazyLayout {
  /** Whether the blob is stored, claimed for this writer so that gc keeps it. */
  hasBlob(digest: string, size?: number): Promise<boolean>;
  putBlob(source: Readable, options: PutBlobOptions): Promise<StoredBlob>;
  putBlobParts(fill: FillParts, options: PutBlobOptions & { expected: ExpectedContent }): Promise<StoredBlob>;
  putBlobBytes(bytes: Uint8Array): Promise<StoredBlob>;
  readBlob(descriptor: Pick<Descriptor, "digest" | "size">): Promise<Buffer>;
  /** The layout itself, creating it now if nothing has yet. */
  materialize(): Promise<ImageLayout>;
}

export async function openLayoutLazily(path: string): Promise<LazyLayout> {
  const entries = await readdir(path).catch((error: unknown) => (isNotFound(error) ? [] : Promise.reject(error)));
  // An existing, non-empty directory is opened (and checked) at once.
  let opened = entries.length > 0 ? ImageLayout.openOrCreate(path) : undefined;
  await opened;
  const materialize = () => (opened ??= ImageLayout.openOrCreate(path));
  return {
    hasBlob: async (digest, size) => (opened ? (await opened).claimBlob(digest, size) : false),
    putBlob: async (source, options) => (await materialize()).putBlob(source, options),
    putBlobParts: async (fill, options) => (await materialize()).putBlobParts(fill, options),
    putBlobBytes: async (bytes) => (await materialize()).putBlobBytes(bytes),
    readBlob: async (descriptor) => (await materialize()).readBlob(descriptor),
    materialize,
  };
}
