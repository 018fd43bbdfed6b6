/**
 * The bytes of a stream read in exact amounts: a header block, an entry's
 * data in chunks up to what is left of it, a skip. Pulls from the stream's
 * async iterator, so backpressure holds and a stream error surfaces at the
 * read that meets it.
 */
import type { Readable } from "node:stream";

export class ByteSource {
  /** Bytes consumed so far. */
  position = 0;
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Up to `max` bytes as they come (one chunk or part of one); empty at the end of the stream. */
  async next(max: number): Promise<Buffer> {
    if (this.pending.length === 0 && !(await this.fill())) return Buffer.alloc(0);
    const chunk = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(chunk.length);
    this.position += chunk.length;
    return chunk;
  }

  /** Exactly `length` bytes, or fewer when the stream ends first. */
  async read(length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const chunk = await this.next(length - got);
      if (chunk.length === 0) break;
      parts.push(chunk);
      got += chunk.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Skips up to `length` bytes; returns how many were there. */
  async skip(length: number): Promise<number> {
    let skipped = 0;
    while (skipped < length) {
      const chunk = await this.next(length - skipped);
      if (chunk.length === 0) break;
      skipped += chunk.length;
    }
    return skipped;
  }

  /** Stops reading: the stream is destroyed. */
  async close(): Promise<void> {
    this.pending = Buffer.alloc(0);
    await this.iterator.return?.();
  }

  private async fill(): Promise<boolean> {
    while (!this.ended && this.pending.length === 0) {
      const result = await this.iterator.next();
      if (result.done) this.ended = true;
      else this.pending = Buffer.isBuffer(result.value) ? result.value : Buffer.from(result.value);
    }
    return this.pending.length > 0;
  }
}
