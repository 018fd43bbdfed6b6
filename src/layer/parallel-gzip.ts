/**
 * gzip on every core: the input is cut into fixed-size chunks, each deflated
 * as an independent gzip member on zlib's threadpool, and the members are
 * written in input order. Concatenated members are one valid gzip stream
 * (RFC 1952; zlib's gunzip and `gzip -d` read them all). The cut points depend
 * only on byte counts, so the output is the same on every run; memory is
 * bounded by `concurrency` chunks in flight.
 */
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { constants, gzip, type ZlibOptions } from "node:zlib";
import { GarbagePacer } from "../util/garbage-pacer.js";

const gzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gzip);

export interface ParallelGzipOptions {
  level?: number;
  /** Bytes of input per gzip member. */
  chunkSize?: number;
  /** Members being compressed at once. */
  concurrency?: number;
}

export const DEFAULT_GZIP_CHUNK = 1024 * 1024;
/** More than deflate can add to a member (stored blocks, gzip header and trailer). */
const MEMBER_SLACK = 64 * 1024;
/**
 * Every input byte passes through several short-lived buffers (the file read,
 * the member's input and output): collected every so many bytes, else dead
 * ones pile up to 64 MiB before V8 frees them (see garbage-pacer.ts).
 */
const COLLECT_EVERY = 16 * 1024 * 1024;
const garbage = new GarbagePacer(COLLECT_EVERY);

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly concurrency: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private members = 0;

  constructor(options: ParallelGzipOptions = {}) {
    super();
    this.level = options.level ?? constants.Z_DEFAULT_COMPRESSION;
    this.chunkSize = options.chunkSize ?? DEFAULT_GZIP_CHUNK;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainFullChunks().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    // An empty input still gives one (empty) member: the output is always gzip.
    if (this.pendingBytes > 0 || this.members === 0) this.submit(this.takeBytes(this.pendingBytes));
    this.emitAll().then(() => callback(), callback);
  }

  private async drainFullChunks(): Promise<void> {
    while (this.pendingBytes >= this.chunkSize) {
      if (this.inFlight.length >= this.concurrency) this.push(await this.inFlight.shift()!);
      this.submit(this.takeBytes(this.chunkSize));
    }
  }

  private submit(input: Buffer): void {
    garbage.count(input.length);
    // An output buffer the size of the whole member: zlib then deflates it in one
    // threadpool job instead of returning to JavaScript every 16 KiB.
    const job = gzipAsync(input, { level: this.level, chunkSize: input.length + MEMBER_SLACK });
    // Errors surface when the job is awaited in order; don't let one go unhandled meanwhile.
    job.catch(() => {});
    this.inFlight.push(job);
    this.members++;
  }

  private async emitAll(): Promise<void> {
    while (this.inFlight.length > 0) this.push(await this.inFlight.shift()!);
  }

  /** The first `size` pending bytes as one buffer. */
  private takeBytes(size: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const taken = all.subarray(0, size);
    const rest = all.subarray(size);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return taken;
  }
}
