/**
 * Reads a tar stream entry by entry, for unpack and validate alike. Framing
 * is ours (tar-header.ts, tar-pax.ts): every header is checked before it is
 * trusted, extended headers (PAX, GNU long names) are held only up to a cap,
 * and every malformed shape ends the read with a LAYER_INVALID_TAR error that
 * names the entry or byte, never a wait. The end is read as GNU tar and Go's
 * archive/tar read it: the archive stops at the first zero block, what follows
 * is drained (its digest still counts) but never applied; a stream that ends
 * right after the last entry's data, without padding or end marker, is
 * complete (noted, not refused); a stream cut inside a header or data is not.
 */
import type { Readable } from "node:stream";
import { InvalidContentError, isOciImageError, UnsafeLayerError } from "../errors.js";
import { printable as show } from "./entry-name.js";
import { ByteSource } from "./tar-bytes.js";
import { BLOCK_SIZE, decodeHeader, isZeroBlock, tarFormatError, type RawTarHeader } from "./tar-header.js";
import { applyPaxRecords, parsePaxRecords, type PaxRecords } from "./tar-pax.js";

/** Largest sum of extended headers (PAX, GNU long names) before one entry; they are held in memory. */
export const MAX_EXTENDED_HEADER_BYTES = 1024 * 1024;

export interface TarHeader extends RawTarHeader {
  /** Seconds since the epoch, from a PAX record. */
  atime?: number;
  /** The PAX records that applied to this entry. */
  pax: PaxRecords;
}

export interface TarEntry {
  header: TarHeader;
  /** Byte offset of the entry's own header block. */
  offset: number;
  /** The entry's data. Read it before the next entry is asked for, or leave it: the rest is skipped. */
  body(): AsyncIterable<Buffer>;
}

/** How the archive ended; known once every entry was read. */
export interface TarEnd {
  /** The stream ended without the end-of-archive marker ("marker") or even the last data's padding ("padding"). */
  missing?: "padding" | "marker";
  /** Non-zero bytes follow the end-of-archive marker (ignored). */
  dataAfterEnd: boolean;
  /** PAX global headers met (their records are not honoured). */
  globalHeaders: number;
}

export interface TarReaderOptions {
  /** Names the tar in messages, e.g. "layer sha256:…". */
  label: string;
  /** Reading stops with an AbortedError once this aborts (checked per chunk). */
  signal?: AbortSignal;
}

interface Pending {
  longName?: string;
  longLink?: string;
  pax: PaxRecords;
  bytes: number;
  headers: number;
}

export class TarReader implements AsyncIterable<TarEntry> {
  readonly end: TarEnd = { dataAfterEnd: false, globalHeaders: 0 };
  private readonly source: ByteSource;
  /** Data bytes of the current entry not yet read, and its padding. */
  private remaining = 0;
  private padding = 0;
  private current = "";

  constructor(
    stream: Readable,
    private readonly options: TarReaderOptions,
  ) {
    this.source = new ByteSource(stream, options.signal);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TarEntry> {
    try {
      for (;;) {
        const entry = await this.nextEntry();
        if (!entry) return;
        yield entry;
      }
    } catch (error) {
      throw this.labelled(error);
    } finally {
      this.source.release();
    }
  }

  /** Stops reading early (the stream is destroyed). */
  close(): Promise<void> {
    return this.source.close();
  }

  private async nextEntry(): Promise<TarEntry | undefined> {
    const pending: Pending = { pax: {}, bytes: 0, headers: 0 };
    for (;;) {
      await this.skipRest();
      const offset = this.source.position;
      const block = await this.source.read(BLOCK_SIZE);
      if (block.length < BLOCK_SIZE || isZeroBlock(block)) {
        if (pending.headers > 0) throw tarFormatError(`the stream ends after an extended header at byte ${offset}`);
        await this.readEnd(block, offset);
        return undefined;
      }
      const raw = decodeHeader(block, offset);
      this.remaining = raw.size;
      this.padding = (BLOCK_SIZE - (raw.size % BLOCK_SIZE)) % BLOCK_SIZE;
      if (raw.extended) {
        await this.readExtended(raw, offset, pending);
        continue;
      }
      return this.entryOf(raw, offset, pending);
    }
  }

  private entryOf(raw: RawTarHeader, offset: number, pending: Pending): TarEntry {
    const at = `the tar header at byte ${offset}`;
    const header: TarHeader = { ...raw, pax: pending.pax };
    applyPaxRecords(header, pending.pax, at);
    if (pending.longName !== undefined) header.name = pending.longName;
    if (pending.longLink !== undefined) header.linkname = pending.longLink;
    if (header.size !== raw.size) {
      this.remaining = header.size;
      this.padding = (BLOCK_SIZE - (header.size % BLOCK_SIZE)) % BLOCK_SIZE;
    }
    this.current = header.name;
    return { header, offset, body: () => this.body() };
  }

  private async *body(): AsyncIterable<Buffer> {
    while (this.remaining > 0) {
      const chunk = await this.source.next(this.remaining);
      if (chunk.length === 0) throw this.cutInData();
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Whatever is left of the current entry's data, then its padding (which may be missing at the very end). */
  private async skipRest(): Promise<void> {
    if (this.remaining > 0) {
      const skipped = await this.source.skip(this.remaining);
      if (skipped < this.remaining) throw this.cutInData();
      this.remaining = 0;
    }
    if (this.padding > 0) {
      const skipped = await this.source.skip(this.padding);
      if (skipped < this.padding) this.end.missing ??= "padding";
      this.padding = 0;
    }
  }

  private cutInData(): InvalidContentError {
    return tarFormatError(
      `Unexpected end of data: the stream ends inside the data of "${show(this.current)}" (byte ${this.source.position})`,
    );
  }

  /** A PAX or GNU long-name header: held (within the cap) for the entry that follows. */
  private async readExtended(raw: RawTarHeader, offset: number, pending: Pending): Promise<void> {
    pending.headers++;
    pending.bytes += raw.size;
    if (pending.bytes > MAX_EXTENDED_HEADER_BYTES) {
      throw new UnsafeLayerError(
        "LAYER_HEADER_TOO_LARGE",
        `${this.options.label}: an extended tar header of ${raw.size} bytes at byte ${offset} takes the headers of one entry over the ${MAX_EXTENDED_HEADER_BYTES}-byte limit`,
      );
    }
    const body = await this.source.read(raw.size);
    this.remaining = 0;
    if (body.length < raw.size)
      throw tarFormatError(`Unexpected end of data: the stream ends inside the extended header at byte ${offset}`);
    const at = `the extended header at byte ${offset}`;
    if (raw.extended === "pax-global") this.end.globalHeaders++;
    else if (raw.extended === "pax") Object.assign(pending.pax, parsePaxRecords(body, at));
    else if (raw.extended === "gnu-long-name") pending.longName = nulTerminated(body);
    else pending.longLink = nulTerminated(body);
  }

  /** At a zero block or the stream's end: the archive is over; anything after the marker is drained and noted. */
  private async readEnd(first: Buffer, offset: number): Promise<void> {
    if (first.length === 0) {
      this.end.missing ??= "marker";
      return;
    }
    if (!isZeroBlock(first))
      throw tarFormatError(`Unexpected end of data: the stream ends inside the tar header at byte ${offset}`);
    if (first.length < BLOCK_SIZE) {
      this.end.missing ??= "marker";
      return;
    }
    const second = await this.source.read(BLOCK_SIZE);
    if (second.length < BLOCK_SIZE && isZeroBlock(second)) this.end.missing ??= "marker";
    if (!isZeroBlock(second)) this.end.dataAfterEnd = true;
    // Drained to the end: a decoder's stream checks its digests only once all of it was read.
    for (;;) {
      const chunk = await this.source.next(64 * 1024);
      if (chunk.length === 0) return;
      if (!this.end.dataAfterEnd && !isZeroBlock(chunk)) this.end.dataAfterEnd = true;
    }
  }

  private labelled(error: unknown): unknown {
    if (isOciImageError(error)) {
      if (error.code !== "LAYER_INVALID_TAR") return error;
      return new InvalidContentError(
        "LAYER_INVALID_TAR",
        `${this.options.label} is not a complete, valid tar: ${error.message}`,
        { where: error.where },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new InvalidContentError("LAYER_INVALID_TAR", `${this.options.label} could not be read: ${message}`, {
      cause: error,
    });
  }
}

function nulTerminated(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString("utf8", 0, nul < 0 ? body.length : nul);
}
