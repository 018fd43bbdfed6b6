/**
 * A blob written in parts at their offsets (parallel range requests) into one
 * temp file, its digest computed over the whole in order. Bytes that extend
 * the hashed prefix are hashed as they are written; bytes ahead of it are only
 * written, and hashed later by reading them back from the same file once the
 * prefix reaches them (the page cache serves that read). Memory stays at the
 * chunks in flight plus one read buffer, whatever the blob's size and however
 * far ahead a part runs: holding parts in memory until the prefix reached them
 * would keep up to the whole blob when the first range is the slow one.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { DigestMismatchError } from "../errors.js";
import { ContentVerifier, type ExpectedContent } from "../image/digest.js";

/** Where the parts of a blob go: `chunks` (contiguous) written at `position`. */
export interface PartWriter {
  write(chunks: Uint8Array[], position: number): Promise<void>;
}

/** Fills the blob through the writer; resolves once every byte of it has been written. */
export type FillParts = (writer: PartWriter) => Promise<void>;

export interface PartFileOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** Bytes read back at a time when the prefix catches up with parts written ahead of it. */
const READ_BACK_BYTES = 1024 * 1024;

/** The running hash of the contiguous prefix of a file written out of order. */
class PrefixHasher {
  private hashed = 0;
  /** Written spans beyond the prefix, [start, end), sorted and merged. */
  private spans: [number, number][] = [];
  private catchingUp?: Promise<void>;
  private failure?: { error: unknown };
  private readonly buffer = Buffer.alloc(READ_BACK_BYTES);

  constructor(
    private readonly file: FileHandle,
    private readonly verifier: ContentVerifier,
  ) {}

  /** Bytes [position, position + length) are on disk: hashed now if they extend the prefix, else later. */
  written(chunks: Uint8Array[], position: number, length: number): void {
    if (position === this.hashed && !this.catchingUp) {
      for (const chunk of chunks) this.verifier.update(chunk);
      this.hashed += length;
    } else {
      this.addSpan(position, position + length);
    }
    this.kick();
  }

  /** Starts reading back when the prefix has reached a written span and no read-back is running. */
  private kick(): void {
    if (this.catchingUp || this.failure || !this.spans[0] || this.spans[0][0] > this.hashed) return;
    this.catchingUp = this.catchUp()
      .catch((error: unknown) => void (this.failure ??= { error }))
      .finally(() => {
        this.catchingUp = undefined;
        this.kick();
      });
  }

  /** Hashes whatever is left to hash; every byte must have been written by now. */
  async finish(): Promise<void> {
    this.kick();
    while (this.catchingUp) await this.catchingUp;
    if (this.failure) throw this.failure.error;
  }

  private addSpan(start: number, end: number): void {
    const spans = [...this.spans, [start, end] as [number, number]].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const span of spans) {
      const last = merged[merged.length - 1];
      if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
      else merged.push([span[0], span[1]]);
    }
    this.spans = merged;
  }

  /** Reads back the spans the prefix has reached, in order, until it reaches a gap (spans may grow meanwhile). */
  private async catchUp(): Promise<void> {
    for (;;) {
      const span = this.spans[0];
      if (!span || span[0] > this.hashed) return;
      if (span[1] <= this.hashed) {
        this.spans.shift();
        continue;
      }
      const length = Math.min(READ_BACK_BYTES, span[1] - this.hashed);
      const { bytesRead } = await this.file.read(this.buffer, 0, length, this.hashed);
      if (bytesRead === 0) throw new Error(`the temp file ended at byte ${this.hashed}`);
      this.verifier.update(this.buffer.subarray(0, bytesRead));
      this.hashed += bytesRead;
    }
  }
}

/**
 * Creates `path`, lets `fill` write the blob's parts into it, hashes it in
 * order, checks it against `expected` and fsyncs it. A part reaching past the
 * declared size is refused before it is written.
 */
export async function writeParts(
  path: string,
  fill: FillParts,
  expected: ExpectedContent,
  options: PartFileOptions,
): Promise<{ digest: string; size: number }> {
  const verifier = new ContentVerifier(expected);
  // Read and write: the parts written ahead of the hashed prefix are read back.
  const file = await open(path, "wx+", 0o644);
  try {
    const hasher = new PrefixHasher(file, verifier);
    let progress = 0;
    await fill({
      async write(chunks, position) {
        options.signal?.throwIfAborted();
        const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        if (position < 0 || position + length > expected.size)
          throw new DigestMismatchError(
            `${expected.digest}: a part at byte ${position} reaches past the ${expected.size} bytes its descriptor declares`,
            { where: expected.digest },
          );
        await file.writev(chunks, position);
        hasher.written(chunks, position, length);
        progress += length;
        options.onProgress?.(progress);
      },
    });
    options.signal?.throwIfAborted();
    await hasher.finish();
    verifier.finish();
    await file.sync();
  } finally {
    await file.close();
  }
  return { digest: verifier.digest(), size: verifier.size };
}
