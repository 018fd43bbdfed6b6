/**
 * Malformed tar shapes built in code: header fields overwritten with the
 * checksum fixed up (so only the field is wrong), and seeded mutations for
 * the bounded mutation test.
 */
import { buildTar } from "../helpers/image-builder.js";
import { paxRecords, rawEntry } from "./harness.js";

/** Recomputes a header block's checksum in place. */
export function fixChecksum(tar: Buffer, offset: number): void {
  tar.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = offset; i < offset + 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, offset + 148, "latin1");
}

/** A copy of `tar` with `bytes` written at `offset + field`, checksum fixed. */
export function withField(tar: Buffer, offset: number, field: number, bytes: Buffer | number[]): Buffer {
  const copy = Buffer.from(tar);
  Buffer.from(bytes).copy(copy, offset + field);
  fixChecksum(copy, offset);
  return copy;
}

/** Header field offsets. */
export const FIELD = { mode: 100, uid: 108, gid: 116, size: 124, mtime: 136, typeflag: 156 } as const;

/** Two files, a directory, a symlink, a hard link, a PAX header and a GNU long name: most header kinds. */
export async function sampleTar(): Promise<Buffer> {
  const entries = await buildTar([
    { name: "dir", type: "directory", mode: 0o755 },
    { name: "dir/a", content: "alpha\n".repeat(100) },
    { name: "dir/link", type: "symlink", linkname: "a" },
    { name: "dir/hard", type: "link", linkname: "dir/a" },
    { name: `dir/${"long".repeat(40)}`, content: "long name" },
  ]);
  const pax = Buffer.concat([
    rawEntry(
      { name: "PaxHeader/b", typeflag: "x" },
      paxRecords({ mtime: "1700000000.25", "SCHILY.xattr.user.x": "1" }),
    ),
    rawEntry({ name: "b", typeflag: "0" }, Buffer.from("bravo")),
  ]);
  // The PAX entry goes before the end-of-archive blocks of the built tar.
  return Buffer.concat([entries.subarray(0, entries.length - 1024), pax, Buffer.alloc(1024)]);
}

/** Offsets of the header blocks of a well-formed tar (extended headers included). */
export function headerOffsets(tar: Buffer): number[] {
  const offsets: number[] = [];
  let offset = 0;
  while (offset + 512 <= tar.length && tar.subarray(offset, offset + 512).some((byte) => byte !== 0)) {
    offsets.push(offset);
    const size = parseInt(
      tar
        .toString("latin1", offset + 124, offset + 136)
        .replace(/\0.*$/s, "")
        .trim() || "0",
      8,
    );
    const type = String.fromCharCode(tar[offset + 156]!);
    const data = "12345".includes(type) ? 0 : size;
    offset += 512 + Math.ceil(data / 512) * 512;
  }
  return offsets;
}

/** mulberry32: a small seeded generator, so every run mutates the same way. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One mutation of `tar`: byte flips in a header (checksum usually fixed), a numeric field rewritten, or a cut. */
export function mutate(tar: Buffer, random: () => number): { tar: Buffer; what: string } {
  const pick = (n: number) => Math.floor(random() * n);
  const headers = headerOffsets(tar);
  if (headers.length === 0) return { tar, what: "unchanged (no header left to mutate)" };
  const header = headers[pick(headers.length)]!;
  const kind = pick(10);
  if (kind === 0) {
    const cut = pick(tar.length);
    return { tar: tar.subarray(0, cut), what: `cut at ${cut}` };
  }
  if (kind <= 3) {
    const field = [FIELD.size, FIELD.mtime, FIELD.uid, FIELD.mode][pick(4)]!;
    const length = field === FIELD.size || field === FIELD.mtime ? 12 : 8;
    const bytes = Array.from({ length }, () => pick(256));
    if (kind === 1) bytes[0] = 0x80 | pick(128);
    return { tar: withField(tar, header, field, bytes), what: `field ${field} of ${header} = ${bytes.join(",")}` };
  }
  const copy = Buffer.from(tar);
  const flips: number[] = [];
  for (let i = 0, n = 1 + pick(4); i < n; i++) {
    const at = header + pick(512);
    copy[at] = pick(256);
    flips.push(at);
  }
  if (kind !== 9) fixChecksum(copy, header);
  return { tar: copy, what: `bytes ${flips.join(",")} of ${header}${kind === 9 ? " (checksum not fixed)" : ""}` };
}
