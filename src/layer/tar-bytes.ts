/**
 * The bytes of a stream read in exact amounts: a header block, an entry's
 * data in chunks up to what is left of it, a skip. Pulls from the stream's
 * async iterator, so backpressure holds and a stream error surfaces at the
 * read that meets it.
 */
import type { Readable } from "node:stream";
import { AbortedError } from "../errors.js";

export class ByteSource {
  /** Bytes consumed so far. */
  position = 0;
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  /** An abort ends a read that waits for data, too: the stream is destroyed with the AbortedError. */
  private readonly onAbort = () => this.stream.destroy(new AbortedError());

  constructor(
    private readonly stream: Readable,
    private readonly signal?: AbortSignal,
  ) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Reading is over: the abort listener goes (none may pile up on a long-lived signal). */
  release(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
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
    this.release();
    this.pending = Buffer.alloc(0);
    await this.iterator.return?.();
  }

  private async fill(): Promise<boolean> {
    while (!this.ended && this.pending.length === 0) {
      // Checked per chunk: skipping a long entry or draining after the end stops promptly too.
      if (this.signal?.aborted) throw new AbortedError();
      const result = await this.iterator.next();
      if (result.done) this.ended = true;
      else this.pending = Buffer.isBuffer(result.value) ? result.value : Buffer.from(result.value);
    }
    return this.pending.length > 0;
  }
}
