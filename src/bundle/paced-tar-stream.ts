/**
 * The readable side of a decoded layer (layer-decoder.ts). Chunks from the
 * decoder thread wait here and reach the stream from a macrotask, at most
 * TURN_BYTES per turn of the event loop. Pushed straight from the worker's
 * message events (delivered up to a thousand at a time), the applier's
 * synchronous file-system work would run in turns lasting seconds, and a
 * SIGINT handler would wait for them.
 */
import { Readable } from "node:stream";
import { GarbagePacer } from "../util/garbage-pacer.js";

const TURN_BYTES = 256 * 1024;
/** The decoder's chunks die here once applied: collected every so many bytes (see garbage-pacer.ts). */
const COLLECT_EVERY = 16 * 1024 * 1024;
/** One for the thread: it counts the bytes of every layer. */
const garbage = new GarbagePacer(COLLECT_EVERY);

export class PacedTarStream {
  readonly tar: Readable;
  private readonly pending: Buffer[] = [];
  private ended = false;
  private scheduled = false;

  /** `onTaken`: bytes that moved into the stream (the decoder thread may send as many more). */
  constructor(private readonly onTaken: (bytes: number) => void) {
    this.tar = new Readable({ highWaterMark: TURN_BYTES, read: () => this.schedule() });
  }

  add(chunk: Buffer): void {
    this.pending.push(chunk);
    this.schedule();
  }

  /** No more chunks: the stream ends once the pending ones are read. */
  end(): void {
    this.ended = true;
    this.schedule();
  }

  fail(error: Error): void {
    this.tar.destroy(error);
  }

  private schedule(): void {
    if (this.scheduled || (this.pending.length === 0 && !this.ended)) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const tar = this.tar;
    let taken = 0;
    while (this.pending.length > 0 && taken < TURN_BYTES && tar.readableLength < tar.readableHighWaterMark) {
      const chunk = this.pending.shift()!;
      taken += chunk.length;
      tar.push(chunk);
    }
    if (taken > 0) {
      this.onTaken(taken);
      garbage.count(taken);
    }
    if (this.pending.length > 0 && tar.readableLength < tar.readableHighWaterMark) this.schedule();
    if (this.ended && this.pending.length === 0) {
      this.ended = false;
      tar.push(null);
    }
  }
}
