/**
 * Writes a directory tree as a layer tar with tar-stream: entries in the
 * walk's sorted order, no `./` prefix, directories with a trailing `/`, a file
 * seen again (same device and inode) as a hardlink to its first path, file
 * contents streamed (never a whole file in memory). No uname/gname: they would
 * depend on the host's user database and change the digest.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  openSync,
  readlinkSync,
  readSync,
  constants as fsConstants,
  type BigIntStats,
} from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { pack, type Header, type Pack } from "tar-stream";
import { OciImageError } from "../errors.js";
import { addWhiteoutEntries, refuseWhiteoutName } from "./added-whiteouts.js";
import { unreadable, walkTree, type TreeEntry } from "./tree-walk.js";

export interface Owner {
  uid: number;
  gid: number;
}

export interface LayerTarOptions {
  /** Store every entry with this owner instead of the files' own. */
  owner?: Owner;
  /** Seconds since the epoch; later modification times are stored as this (reproducible builds). */
  clampMtime?: number;
  signal?: AbortSignal;
  /** After each entry is written: the file bytes read so far and the entries written (for progress). */
  onEntry?: (bytesRead: number, entries: number) => void;
  /** Store `.wh.` files of the tree as they are (else they are refused). */
  whiteouts?: boolean;
  /** Whiteout entry names (`d/.wh.name`) added after the tree's entries. */
  removals?: readonly string[];
}

/** The largest id the ustar header holds as tar-stream writes it (6 octal digits); larger ids go in PAX records. */
const USTAR_MAX_ID = 0o777777;
const READ_CHUNK = 256 * 1024;
/** Files up to this size are read whole (bounded: it is one read chunk). */
const SMALL_FILE = READ_CHUNK;

/** The uncompressed tar of the tree under `root`, as a stream; it errors on the first entry it can't store. */
export function createLayerTar(root: string, options: LayerTarOptions = {}): Readable {
  const tar = pack();
  writeEntries(tar, root, options)
    .then(() => addWhiteoutEntries(tar, options.removals ?? [], options.clampMtime ?? 0))
    .then(
      () => tar.finalize(),
      (error: unknown) => tar.destroy(error as Error),
    );
  return Readable.from(tar, { objectMode: false, highWaterMark: 1024 * 1024 });
}

/** Entries are prepared (small files and link targets read) up to this many ahead of the tar: at most this × 256 KiB held. */
const READ_AHEAD = 8;

/** An entry ready to be written: its header and, for a small file, its content already read. */
interface PreparedEntry {
  header: Header;
  entry: TreeEntry;
  content?: Buffer;
}

async function writeEntries(tar: Pack, root: string, options: LayerTarOptions): Promise<void> {
  const firstPaths = new Map<string, string>();
  const entries = walkTree(root, options.signal)[Symbol.asyncIterator]();
  const ahead: Promise<PreparedEntry>[] = [];
  let walked = false;
  let bytesRead = 0;
  let written = 0;
  for (;;) {
    while (!walked && ahead.length < READ_AHEAD) {
      const next = await entries.next();
      if (next.done) walked = true;
      else ahead.push(settledLater(prepareEntry(next.value, options, firstPaths)));
    }
    const next = ahead.shift();
    if (!next) return;
    const { header, entry, content } = await next;
    if (content) await addEntry(tar, header, content);
    else if (header.type === "file") await streamFile(tar, header, entry);
    else await addEntry(tar, header);
    if (header.type === "file") bytesRead += header.size ?? 0;
    options.onEntry?.(bytesRead, ++written);
  }
}

/** Marks a promise as handled now (it is awaited later, in order), so a failure while queued is not an unhandled rejection. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * The header of a walked entry and what can be read ahead of writing it. The
 * hardlink check runs before the first await, so it sees entries in walk order.
 */
async function prepareEntry(
  entry: TreeEntry,
  options: LayerTarOptions,
  firstPaths: Map<string, string>,
): Promise<PreparedEntry> {
  if (!options.whiteouts) refuseWhiteoutName(entry.name, entry.path);
  const header = headerFor(entry, options);
  const { stats } = entry;
  if (stats.isFile() && stats.nlink > 1n) {
    const key = `${stats.dev}:${stats.ino}`;
    const first = firstPaths.get(key);
    if (first !== undefined) return { header: { ...header, type: "link", linkname: first, size: 0 }, entry };
    firstPaths.set(key, entry.name);
  }
  if (header.type === "symlink") header.linkname = readLinkTarget(entry.path);
  // Small files in one read: cheaper than a stream per file.
  if (header.type === "file" && header.size <= SMALL_FILE)
    return { header, entry, content: await readSmallFile(entry, header.size) };
  return { header, entry };
}

function headerFor(entry: TreeEntry, options: LayerTarOptions): Header & { pax?: Record<string, string> } {
  const { stats } = entry;
  const uid = options.owner?.uid ?? Number(stats.uid);
  const gid = options.owner?.gid ?? Number(stats.gid);
  let seconds = Number(stats.mtimeMs / 1000n);
  if (options.clampMtime !== undefined && seconds > options.clampMtime) seconds = options.clampMtime;
  if (seconds < 0) seconds = 0;
  const pax: Record<string, string> = {};
  if (uid > USTAR_MAX_ID) pax.uid = String(uid);
  if (gid > USTAR_MAX_ID) pax.gid = String(gid);
  const header: Header & { pax?: Record<string, string> } = {
    name: entry.name,
    type: "file",
    mode: Number(stats.mode) & 0o7777,
    uid: Math.min(uid, USTAR_MAX_ID),
    gid: Math.min(gid, USTAR_MAX_ID),
    size: 0,
    mtime: new Date(seconds * 1000),
    linkname: "",
    uname: "",
    gname: "",
    devmajor: 0,
    devminor: 0,
    ...(Object.keys(pax).length ? { pax } : {}),
  };
  if (stats.isFile()) {
    header.size = Number(stats.size);
  } else if (stats.isDirectory()) {
    header.type = "directory";
    header.name = `${entry.name}/`;
  } else if (stats.isSymbolicLink()) {
    header.type = "symlink";
  } else if (stats.isFIFO()) {
    header.type = "fifo";
  } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    header.type = stats.isCharacterDevice() ? "character-device" : "block-device";
    header.devmajor = Number(((stats.rdev >> 8n) & 0xfffn) | ((stats.rdev >> 32n) & 0xfffff000n));
    header.devminor = Number((stats.rdev & 0xffn) | ((stats.rdev >> 12n) & 0xffffff00n));
  } else if (stats.isSocket()) {
    throw new OciImageError(
      "ROOTFS_SOCKET",
      `${entry.path} is a socket, which a layer cannot hold (a socket exists only while a process serves it); remove it from the tree or copy the tree without it`,
      { where: entry.path },
    );
  } else {
    throw new OciImageError("ROOTFS_FILE_TYPE", `${entry.path} is of a file type a layer cannot hold`, {
      where: entry.path,
    });
  }
  return header;
}

/** Adds an entry (with its whole content, for a small file); a symlink's target is read first. */
async function addEntry(tar: Pack, header: Header, content?: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (content) tar.entry(header, content, done);
    else tar.entry(header, done);
  });
}

/** O_NONBLOCK: should the file have become a FIFO since the walk, opening it must not hang. */
const OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/** Opens a regular file without following links and checks it is still the file walked. */
async function openWalkedFile(entry: TreeEntry): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(entry.path, OPEN_FLAGS);
  } catch (error) {
    throw unreadable(entry.path, error);
  }
  try {
    const now = await handle.stat({ bigint: true });
    if (!sameFile(now, entry.stats)) throw changed(entry.path);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/**
 * Reads a small file whole, synchronously: four system calls on a warm cache
 * cost less than four round trips to a threadpool that is busy compressing.
 */
function readSmallFile(entry: TreeEntry, size: number): Buffer {
  let fd: number;
  try {
    fd = openSync(entry.path, OPEN_FLAGS);
  } catch (error) {
    throw unreadable(entry.path, error);
  }
  try {
    if (!sameFile(fstatSync(fd, { bigint: true }), entry.stats)) throw changed(entry.path);
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buffer, filled, size - filled, filled);
      } catch (error) {
        throw unreadable(entry.path, error);
      }
      if (bytesRead === 0) throw changed(entry.path);
      filled += bytesRead;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** Streams a large regular file into the tar (never whole in memory). */
async function streamFile(tar: Pack, header: Header, entry: TreeEntry): Promise<void> {
  const handle = await openWalkedFile(entry);
  const source = createReadStream("", {
    fd: handle,
    autoClose: false,
    start: 0,
    end: header.size - 1,
    highWaterMark: READ_CHUNK,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = tar.entry(header, (error) =>
        error ? reject(/size mismatch/i.test(error.message) ? changed(entry.path) : error) : resolve(),
      );
      source.on("error", (error) => {
        const failure = unreadable(entry.path, error);
        sink.destroy(failure);
        reject(failure);
      });
      source.pipe(sink as unknown as NodeJS.WritableStream);
    });
  } finally {
    source.destroy();
    await handle.close().catch(() => {});
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A symlink's target exactly as stored (absolute and dangling targets too); it must be UTF-8. */
function readLinkTarget(path: string): string {
  let target: Buffer;
  try {
    target = readlinkSync(path, { encoding: "buffer" });
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    return utf8.decode(target);
  } catch {
    throw new OciImageError(
      "ROOTFS_NAME_ENCODING",
      `${path}: symlink target is not valid UTF-8, which a layer tar cannot hold`,
      { where: path },
    );
  }
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size;
}

function changed(path: string): OciImageError {
  return new OciImageError(
    "ROOTFS_CHANGED",
    `${path} changed while the layer was being written; don't change the tree during create`,
    { where: path },
  );
}
