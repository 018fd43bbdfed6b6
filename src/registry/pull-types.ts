/** What a pull is given and what it gives back. */
import type { Readable } from "node:stream";
import type { PlatformSpec } from "../image/platform.js";
import type { Descriptor } from "../image/types.js";
import type { RegistryClient } from "./client.js";
import type { ImageReference } from "./reference.js";

/** Where pulled blobs go; an ImageLayout is one. */
export interface BlobSink {
  hasBlob(digest: string, size?: number): Promise<boolean>;
  putBlob(
    source: Readable,
    options: { expected: { digest: string; size: number }; signal?: AbortSignal; onProgress?: (bytes: number) => void },
  ): Promise<{ digest: string; size: number; existed: boolean }>;
  /**
   * Stores a blob that `fill` writes in parts at their offsets (a large blob
   * fetched by parallel ranges); without it every blob comes as one stream.
   */
  putBlobParts?(
    fill: (writer: PartWriter) => Promise<void>,
    options: { expected: { digest: string; size: number }; signal?: AbortSignal; onProgress?: (bytes: number) => void },
  ): Promise<{ digest: string; size: number; existed: boolean }>;
  putBlobBytes(bytes: Uint8Array): Promise<{ digest: string; size: number; existed: boolean }>;
  readBlob(descriptor: { digest: string; size: number }): Promise<Buffer>;
}

/** Where the parts of a blob go: `chunks` (contiguous) written at byte `position`. */
export interface PartWriter {
  write(chunks: Uint8Array[], position: number): Promise<void>;
}

export interface BlobProgress {
  update(bytes: number, total: number): void;
  done(): void;
  failed(): void;
}

export interface PullEvents {
  /**
   * The config and layers of one image are known, before any of them downloads
   * (already stored ones included: they get `blobSkipped`). Called once per
   * image, so several times for an index (and once for an index's entries that
   * are plain blobs).
   */
  blobsPlanned?(descriptors: Descriptor[]): void;
  /** A blob download begins (again, on a retry). */
  blobStarted?(descriptor: Descriptor): BlobProgress;
  /** A blob was already stored and is not downloaded. */
  blobSkipped?(descriptor: Descriptor): void;
  warning?(message: string): void;
}

export interface PullOptions {
  client: RegistryClient;
  reference: ImageReference;
  sink: BlobSink;
  /**
   * Which image of an index to keep, or "all" for the whole index. Named, it is
   * also required of a single-platform image; left out, an index gives this
   * machine's platform and a single image is taken as it is.
   */
  platform?: PlatformSpec | "all";
  /** Blobs downloaded at once (default 4). */
  jobs?: number;
  /**
   * HTTP connections open at once for blobs, in total (default 12): a blob of
   * 32 MiB or more is fetched as ranges over as many of them as are free; 1
   * fetches every blob as one stream.
   */
  connections?: number;
  signal?: AbortSignal;
  events?: PullEvents;
}

export interface PullResult {
  /** The entry to add to index.json (OCI media type; with `platform` when one was chosen from an index). */
  descriptor: Descriptor;
  /** The digest the registry serves for the reference (before any conversion). */
  sourceDigest: string;
  sourceMediaType: string;
  /** `os/arch[/variant]` of the image stored, or "all". */
  platform: string;
  converted: boolean;
  blobs: { fetched: number; skipped: number; bytes: number };
}
