/**
 * One 512-byte tar header block decoded strictly (ustar, GNU and old V7
 * layouts): the checksum must match, every numeric field must be octal or a
 * well-formed base-256 number that fits a safe integer, and nothing is
 * guessed. A field that is wrong is named in the error, so a mutated header
 * ends the read at once instead of leaving the stream waiting for data that a
 * nonsense size promised.
 */
import { InvalidContentError } from "../errors.js";

export const BLOCK_SIZE = 512;

/** What an entry is, by its typeflag; `null` for a typeflag this tool does not know. */
export type TarEntryType =
  "file" | "contiguous-file" | "link" | "symlink" | "character-device" | "block-device" | "directory" | "fifo";

/** Typeflags the reader consumes itself: extended headers that describe the next entry. */
export type ExtendedHeaderType = "pax" | "pax-global" | "gnu-long-name" | "gnu-long-link";

const ENTRY_TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "contiguous-file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};

const EXTENDED_TYPES: Record<string, ExtendedHeaderType> = {
  x: "pax",
  g: "pax-global",
  L: "gnu-long-name",
  K: "gnu-long-link",
};

/** Types whose size field says nothing about data blocks (as Go's archive/tar reads them). */
const HEADER_ONLY: ReadonlySet<TarEntryType> = new Set([
  "link",
  "symlink",
  "character-device",
  "block-device",
  "directory",
  "fifo",
]);

/** Whether entries of this type carry data blocks (the size field counts). */
export function hasData(type: TarEntryType | null): boolean {
  return type === null || !HEADER_ONLY.has(type);
}

export interface RawTarHeader {
  name: string;
  linkname: string;
  /** The typeflag character as written. */
  typeflag: string;
  type: TarEntryType | null;
  extended?: ExtendedHeaderType;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data blocks that follow this header. */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  devmajor: number;
  devminor: number;
}

/** A malformed tar: the message says which field of which block is wrong. */
export function tarFormatError(message: string): InvalidContentError {
  return new InvalidContentError("LAYER_INVALID_TAR", message);
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes a header block at byte `offset` of the tar; throws LAYER_INVALID_TAR on any malformed field. */
export function decodeHeader(block: Buffer, offset: number): RawTarHeader {
  const at = `the tar header at byte ${offset}`;
  checkChecksum(block, at);
  const typeflag = String.fromCharCode(block[156]!);
  const extended = EXTENDED_TYPES[typeflag];
  const magic = block.toString("latin1", 257, 263);
  // Old (V7) headers end at the link name: the fields after it are not theirs.
  const ustar = magic === "ustar\0" || magic === "ustar ";
  let name = text(block, 0, 100);
  // POSIX ustar splits long names into prefix/name; GNU puts other fields where the prefix would be.
  if (magic === "ustar\0") {
    const prefix = text(block, 345, 155);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  let type: TarEntryType | null = ENTRY_TYPES[typeflag] ?? null;
  // Old tars mark directories by a trailing slash only.
  if (typeflag === "\0" && name.endsWith("/")) type = "directory";
  const size = numeric(block, 124, 12, "size", at);
  if (size < 0) throw tarFormatError(`${at} has a negative size (${size})`);
  return {
    name,
    linkname: text(block, 157, 100),
    typeflag,
    type: extended ? null : type,
    extended,
    mode: numeric(block, 100, 8, "mode", at),
    uid: numeric(block, 108, 8, "uid", at),
    gid: numeric(block, 116, 8, "gid", at),
    size: extended || hasData(type) ? size : 0,
    mtime: numeric(block, 136, 12, "mtime", at),
    devmajor: ustar ? numeric(block, 329, 8, "devmajor", at) : 0,
    devminor: ustar ? numeric(block, 337, 8, "devminor", at) : 0,
  };
}

/** The header's own sum, with its checksum field counted as spaces (unsigned, or signed as some old tars did). */
function checkChecksum(block: Buffer, at: string): void {
  const stored = text(block, 148, 8, "latin1").trim();
  if (!/^[0-7]+$/.test(stored)) throw tarFormatError(`${at} has no valid checksum field`);
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += block[i]!;
    signed += block[i]! > 127 ? block[i]! - 256 : block[i]!;
  }
  const value = parseInt(stored, 8);
  if (value !== unsigned && value !== signed) throw tarFormatError(`${at} has a wrong checksum (not a tar header)`);
}

/** A NUL-terminated text field. */
function text(block: Buffer, start: number, length: number, encoding: BufferEncoding = "utf8"): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return block.toString(encoding, start, end);
}

/** An octal field, or base-256 when its first byte has the high bit set. */
export function numeric(block: Buffer, start: number, length: number, field: string, at: string): number {
  const first = block[start]!;
  if (first & 0x80) return base256(block.subarray(start, start + length), field, at);
  // As Go's archive/tar reads them: NULs and spaces around the digits, and anything after a NUL, are not part of it.
  const trimmed = block.toString("latin1", start, start + length).replace(/^[\0 ]+|[\0 ]+$/g, "");
  const digits = trimmed.split("\0")[0]!;
  if (digits === "") return 0;
  if (!/^[0-7]+$/.test(digits)) throw tarFormatError(`${at} has a ${field} field that is not an octal number`);
  const value = parseInt(digits, 8);
  if (!Number.isSafeInteger(value)) throw tarFormatError(`${at} has a ${field} field too large to use (${digits})`);
  return value;
}

/** GNU base-256: big-endian two's complement in the field's bits after the flag bit. */
function base256(bytes: Buffer, field: string, at: string): number {
  const negative = (bytes[0]! & 0x40) !== 0;
  let value = BigInt(bytes[0]! & 0x7f) - (negative ? 0x80n : 0n);
  for (let i = 1; i < bytes.length; i++) value = value * 256n + BigInt(bytes[i]!);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw tarFormatError(`${at} has a base-256 ${field} field out of range (${value})`);
  }
  return Number(value);
}
