/**
 * Content-addressed blobs under `blobs/<alg>/<encoded>`: written through a
 * temp file that is hashed as it fills, fsynced and renamed into place; read
 * back through a stream that checks size and digest as it flows.
 */
import { createReadStream } from "node:fs";
import { open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { DigestMismatchError, InvalidContentError, NotFoundError, fileSystemErrorOf } from "../errors.js";
import {
  ContentVerifier,
  VerifyingStream,
  digestOf,
  parseDigest,
  verifyBytes,
  type DigestAlgorithm,
  type ExpectedContent,
} from "../image/digest.js";
import { MAX_DOCUMENT_SIZE, parseJsonDocument } from "../image/json.js";
import type { Descriptor } from "../image/types.js";
import { TEMP_PREFIX, tempPathIn } from "../util/atomic-write.js";
import { GarbagePacer } from "../util/garbage-pacer.js";
import { writeParts, type FillParts } from "./part-file.js";
import { makeDirectory } from "../util/make-directory.js";
import { registerWriter } from "./writers.js";

/** Prefix of temp files in the layout root; anything with it is an interrupted write. */
export { TEMP_PREFIX };
export type { FillParts, PartWriter } from "./part-file.js";

export interface PutBlobOptions {
  /** When known (fetch), the bytes must match it or nothing is stored. */
  expected?: ExpectedContent;
  algorithm?: DigestAlgorithm;
  signal?: AbortSignal;
  /** Called with the running byte count as data is written. */
  onProgress?: (bytes: number) => void;
}

export interface StoredBlob {
  digest: string;
  size: number;
  /** True when the blob was already present and nothing was written. */
  existed: boolean;
}

export class BlobStore {
  constructor(readonly root: string) {}

  /** The path of a blob; the digest is parsed first so it can never be a path trick. */
  blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest, digest);
    return join(this.root, "blobs", algorithm, encoded);
  }

  /** Whether a blob with this digest (and, when given, this size) is stored. */
  async hasBlob(digest: string, size?: number): Promise<boolean> {
    try {
      const info = await stat(this.blobPath(digest));
      return info.isFile() && (size === undefined || info.size === size);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * For a writer about to reuse a stored blob: whether it is there, touched so
   * that a concurrent gc keeps it (writers.ts). False when it is missing, or is
   * not this size: then the writer stores it.
   */
  async claimBlob(digest: string, size?: number): Promise<boolean> {
    await registerWriter(this.root);
    const path = this.blobPath(digest);
    const now = new Date();
    try {
      await utimes(path, now, now);
    } catch (error) {
      if (isNotFound(error)) return false;
      // A layout the writer may read but not change: nothing can remove the blob through it either.
      if (!["EPERM", "EACCES", "EROFS"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
    }
    return this.hasBlob(digest, size);
  }

  /**
   * Stores a stream as a blob. With `expected`, an already-present blob is not
   * written again (the source is not read) and bytes that don't match are never
   * renamed into place.
   */
  async putBlob(source: Readable | AsyncIterable<Uint8Array>, options: PutBlobOptions = {}): Promise<StoredBlob> {
    const { expected } = options;
    if (expected && (await this.isStored(expected))) {
      if (source instanceof Readable) source.destroy();
      return { digest: expected.digest, size: expected.size, existed: true };
    }
    const algorithm = expected ? parseDigest(expected.digest).algorithm : (options.algorithm ?? "sha256");
    return this.storeThroughTemp(algorithm, (tempPath) =>
      writeHashed(tempPath, source, algorithm, collectingAsWritten(options)),
    );
  }

  /**
   * Stores a blob written in parts at their offsets (`fill` writes them, in any
   * order and at once); hashed in order, checked against `expected`, fsynced
   * and renamed into place like `putBlob`. An already-present blob is not
   * written again (`fill` is not called).
   */
  async putBlobParts(fill: FillParts, options: PutBlobOptions & { expected: ExpectedContent }): Promise<StoredBlob> {
    const { expected } = options;
    if (await this.isStored(expected)) return { digest: expected.digest, size: expected.size, existed: true };
    const { algorithm } = parseDigest(expected.digest);
    return this.storeThroughTemp(algorithm, (tempPath) =>
      writeParts(tempPath, fill, expected, collectingAsWritten(options)),
    );
  }

  /** Whether the blob is stored already; if so it is claimed, so a concurrent gc keeps it. */
  private async isStored(expected: ExpectedContent): Promise<boolean> {
    parseDigest(expected.digest, expected.digest);
    return this.claimBlob(expected.digest, expected.size);
  }

  /** Temp file written (hashed, fsynced) by `write`, renamed to its digest's path; removed on failure. */
  private async storeThroughTemp(
    algorithm: DigestAlgorithm,
    write: (tempPath: string) => Promise<{ digest: string; size: number }>,
  ): Promise<StoredBlob> {
    await registerWriter(this.root);
    const tempPath = tempPathIn(this.root);
    try {
      const { digest, size } = await write(tempPath);
      await makeDirectory(join(this.root, "blobs", algorithm));
      await rename(tempPath, this.blobPath(digest));
      return { digest, size, existed: false };
    } catch (error) {
      await unlink(tempPath).catch(() => {});
      // Writes name no file: the layout is the place to name (its disk is full, or read-only).
      throw fileSystemErrorOf(error, (error as { path?: unknown }).path === undefined ? this.root : undefined) ?? error;
    }
  }

  /** Stores bytes already in memory (documents); returns their digest and size. */
  async putBlobBytes(bytes: Uint8Array): Promise<StoredBlob> {
    const digest = digestOf(bytes);
    return this.putBlob(Readable.from([bytes]), { expected: { digest, size: bytes.length } });
  }

  /**
   * Opens a blob for reading. The size on disk is checked before a byte is read;
   * the digest is checked as the stream ends (it errors on a mismatch), so a
   * consumer must not trust what it read until the stream has ended cleanly.
   */
  async openBlob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    options: { verify?: boolean } = {},
  ): Promise<Readable> {
    const path = this.blobPath(descriptor.digest);
    await this.checkBlobSize(descriptor, path);
    const file = createReadStream(path, { highWaterMark: READ_CHUNK });
    if (options.verify === false) return file;
    const verifying = new VerifyingStream(descriptor, descriptor.digest);
    file.on("error", (error) => verifying.destroy(error));
    return file.pipe(verifying);
  }

  /** Reads a small blob whole, verified. */
  async readBlob(descriptor: Pick<Descriptor, "digest" | "size">, maxSize = MAX_DOCUMENT_SIZE): Promise<Buffer> {
    if (descriptor.size > maxSize) {
      throw new InvalidContentError(
        "DOCUMENT_TOO_LARGE",
        `${descriptor.digest} declares ${descriptor.size} bytes, over the ${maxSize}-byte limit for a document`,
        { where: descriptor.digest },
      );
    }
    const path = this.blobPath(descriptor.digest);
    await this.checkBlobSize(descriptor, path);
    const bytes = await readFile(path).catch((error: unknown) => {
      throw fileSystemErrorOf(error, path) ?? error;
    });
    verifyBytes(bytes, descriptor);
    return bytes;
  }

  /** Reads a JSON document blob, verified and strictly parsed. */
  async readJsonBlob<T = unknown>(descriptor: Pick<Descriptor, "digest" | "size">): Promise<T> {
    return parseJsonDocument(await this.readBlob(descriptor), descriptor.digest) as T;
  }

  private async checkBlobSize(descriptor: Pick<Descriptor, "digest" | "size">, path: string): Promise<void> {
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile())
        throw new InvalidContentError("BLOB_NOT_FILE", `blob ${descriptor.digest} is not a regular file`, {
          where: descriptor.digest,
        });
      size = info.size;
    } catch (error) {
      if (isNotFound(error))
        throw new NotFoundError("BLOB_UNKNOWN", `blob ${descriptor.digest} is not in the layout`, {
          where: descriptor.digest,
        });
      throw error;
    }
    if (size !== descriptor.size) {
      throw new DigestMismatchError(
        `blob ${descriptor.digest} is ${size} bytes, but its descriptor declares ${descriptor.size}`,
        { where: descriptor.digest },
      );
    }
  }
}

/** Blobs are read in chunks of this size: fewer reads, and fewer chunks for every stream after. */
/**
 * The buffers of a download are dead once written; collected every 32 MiB
 * (garbage-pacer.ts), a large blob does not pile up 64 MiB of them first.
 */
const garbage = new GarbagePacer(32 * 1024 * 1024);

/** The options with their progress callback counting the bytes written into the pacer. */
function collectingAsWritten<T extends PutBlobOptions>(options: T): T {
  let counted = 0;
  return {
    ...options,
    onProgress: (bytes: number) => {
      garbage.count(bytes - counted);
      counted = bytes;
      options.onProgress?.(bytes);
    },
  };
}

const READ_CHUNK = 1024 * 1024;

/** Writes below this many bytes are gathered into one writev: fewer system calls. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Copies `source` into a new file at `path`, hashing every chunk on its way
 * to the disk (one pass, no intermediate streams), then fsyncs. With an
 * expected size it stops as soon as the source sends more than that.
 */
async function writeHashed(
  path: string,
  source: Readable | AsyncIterable<Uint8Array>,
  algorithm: DigestAlgorithm,
  options: PutBlobOptions,
): Promise<{ digest: string; size: number }> {
  // With an expected content the verifier stops at the first byte too many; without, it only hashes.
  const verifier = new ContentVerifier(options.expected ?? algorithm);
  const file = await open(path, "wx", 0o644);
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      options.signal?.throwIfAborted();
      verifier.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await file.writev(batch);
        batch = [];
        batchBytes = 0;
      }
      // Per chunk, not per batch: a slow registry still shows its bytes arriving.
      options.onProgress?.(verifier.size);
    }
    if (batch.length > 0) await file.writev(batch);
    options.signal?.throwIfAborted();
    verifier.finish();
    await file.sync();
  } finally {
    await file.close();
    if (source instanceof Readable && !source.readableEnded) source.destroy();
  }
  return { digest: verifier.digest(), size: verifier.size };
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT";
}
