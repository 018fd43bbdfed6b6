/**
 * The bodies of a chunked upload, cut in order from one stream of the whole
 * blob: the opener's whole-blob stream, which is the blob's digest check. So
 * each byte is read and hashed once, at the pace of the upload, and the last
 * bytes come only once the whole blob matched. When a retry goes on from
 * another offset than where the stream is (the registry kept less than was
 * sent), that chunk is read by range, and the check reads the whole blob
 * again before the upload may be committed.
 */
import { Readable } from "node:stream";
import type { Descriptor } from "../image/types.js";
import type { BlobOpener } from "./blob-upload.js";

export class ChunkSource {
  private readonly whole: Readable;
  private readonly chunks: AsyncIterator<Buffer>;
  private leftover?: Buffer;
  /** Bytes of the whole stream handed out so far; undefined once it is given up for ranges. */
  private position: number | undefined = 0;
  /** A body is being cut (one whose request failed may still be waiting for its next chunk). */
  private cutting = false;

  constructor(
    private readonly open: BlobOpener,
    private readonly descriptor: Descriptor,
  ) {
    this.whole = open(descriptor);
    // Its failure is read from the iterator, which listens only from its first `next`.
    this.whole.on("error", () => undefined);
    this.chunks = this.whole[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** A stream of bytes [start, end): cut from the whole stream when it is at `start`, else read by range. */
  body(start: number, end: number): Readable {
    if (this.position !== start || this.cutting) {
      this.position = undefined;
      return this.open(this.descriptor, start, end);
    }
    return Readable.from(this.take(end), { objectMode: false });
  }

  /** Resolves once every byte went through the digest check; throws its failure. */
  async checked(): Promise<void> {
    if (this.position === undefined) {
      this.whole.destroy();
      // Given up for ranges: the blob is read once more, whole, through the check.
      for await (const _chunk of this.open(this.descriptor));
      return;
    }
    while (!(await this.chunks.next()).done);
  }

  /** Stops reading (the upload is over, whatever its outcome). */
  close(): void {
    this.whole.destroy();
  }

  private async *take(end: number): AsyncGenerator<Buffer> {
    this.cutting = true;
    try {
      yield* this.cut(end);
    } finally {
      this.cutting = false;
    }
  }

  private async *cut(end: number): AsyncGenerator<Buffer> {
    while (this.position !== undefined && this.position < end) {
      let chunk = this.leftover;
      this.leftover = undefined;
      if (!chunk) {
        const next = await this.chunks.next();
        if (next.done) return;
        chunk = next.value;
      }
      const wanted = end - this.position;
      if (chunk.length > wanted) {
        this.leftover = chunk.subarray(wanted);
        chunk = chunk.subarray(0, wanted);
      }
      this.position += chunk.length;
      yield chunk;
    }
  }
}
