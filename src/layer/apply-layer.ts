/**
 * Applies one layer tar onto a rootfs (layer.md "applying changesets"), not a
 * plain extract: whiteouts delete lower paths, an opaque whiteout hides the
 * lower children of its directory (never this layer's own entries, wherever
 * it stands), a directory over a directory keeps it and takes the new
 * attributes, anything else replaces what was there. Every path is resolved
 * inside the rootfs one component at a time (root-resolver.ts), so nothing a
 * layer says can write, link, chmod or delete outside it. Entries stream to
 * disk; memory grows with the number of entries, never with their size.
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { extract, type Header } from "tar-stream";
import { AbortedError, InvalidContentError, OciImageError, UnsafeLayerError } from "../errors.js";
import { cleanEntryPath, formatEntryPath } from "./entry-name.js";
import { applyOwnerAndMode, applyTimes, paxTime, xattrNamesOf, type EntryMetadata } from "./entry-metadata.js";
import { lstatOrUndefined, resolveInRoot, type ResolvedPath } from "./root-resolver.js";
import { makeTreeWritable } from "./make-tree-writable.js";
import { EventLoopPacer } from "./event-loop-pacer.js";
import { SpecialFileMaker, type SpecialKind } from "./special-files.js";
import { parseWhiteout } from "./whiteout.js";

/** Largest PAX / GNU long-name header accepted (its records are held in memory). */
export const MAX_EXTENDED_HEADER_BYTES = 1024 * 1024;

export interface ApplyLayerOptions {
  /** No chown (owners are only reported), device nodes skipped. */
  rootless: boolean;
  onWarning?: (message: string) => void;
  /** Rootless: called for entries whose owner is not 0:0 (the owner is not applied). */
  onOwner?: (path: string, uid: number, gid: number) => void;
  signal?: AbortSignal;
  /** Names the layer in messages (its digest). */
  label?: string;
}

export interface ApplyLayerResult {
  entries: number;
  /** Entries skipped with a warning (devices when rootless, AUFS metadata). */
  skipped: number;
}

type Entry = AsyncIterable<Buffer> & Readable & { header: Header; offset: number };

/** Reads `tar` to its end, applying each entry under `rootfs`. Rejects on the first unsafe entry. */
export async function applyLayer(tar: Readable, rootfs: string, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  const applier = new LayerApplier(rootfs, options);
  const extractor = extract();
  watchExtendedHeaders(extractor, applier);
  let streamError: Error | undefined;
  tar.on("error", (error) => {
    streamError ??= error;
    extractor.destroy(error);
  });
  extractor.on("error", (error: Error) => (streamError ??= error));
  tar.pipe(extractor as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extractor as AsyncIterable<Entry>) {
      await applier.apply(entry);
    }
  } catch (error) {
    applier.close();
    tar.unpipe(extractor as unknown as NodeJS.WritableStream);
    tar.destroy();
    // An entry's "stream was destroyed" hides the real cause: the tar's or decompressor's error.
    const cause = error instanceof OciImageError ? error : (streamError ?? error);
    if (cause instanceof OciImageError) throw cause;
    throw new InvalidContentError(
      "LAYER_INVALID_TAR",
      `${applier.label} is not a complete, valid tar: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
  applier.close();
  await applier.finish();
  return { entries: applier.entries, skipped: applier.skipped };
}

/**
 * tar-stream holds a PAX or GNU long-name header whole (up to its own 4 MiB
 * cap) before decoding it; this refuses one over our cap as it is decoded, and
 * skips PAX global headers with a warning (their records are not honoured).
 */
function watchExtendedHeaders(extractor: unknown, applier: LayerApplier): void {
  const internal = extractor as { _decodeLongHeader?: (buffer: Buffer) => void; _header?: { type?: string } };
  const decode = internal._decodeLongHeader;
  if (typeof decode !== "function") return;
  internal._decodeLongHeader = function (this: typeof internal, buffer: Buffer) {
    if (buffer.length > MAX_EXTENDED_HEADER_BYTES) {
      throw new UnsafeLayerError(
        "LAYER_HEADER_TOO_LARGE",
        `${applier.label}: an extended tar header of ${buffer.length} bytes is over the ${MAX_EXTENDED_HEADER_BYTES}-byte limit`,
      );
    }
    if (this._header?.type === "pax-global-header") {
      // Not decoded at all, so tar-stream can't merge its records (a path, a size) into later entries.
      applier.warn("it has a PAX global header; its records are ignored");
      return;
    }
    return decode.call(this, buffer);
  };
}

interface DeferredDirectory {
  parts: string[];
  metadata: EntryMetadata;
}

class LayerApplier {
  entries = 0;
  skipped = 0;
  readonly label: string;
  /** Paths (real, under the rootfs) this layer wrote; an opaque whiteout spares them. */
  private readonly created = new Set<string>();
  /** Every ancestor of a created path: implicit directories of this layer. */
  private readonly createdAncestors = new Set<string>();
  private readonly opaque = new Map<string, string[]>();
  /** Directories get their mode (rootless) and times after their children are written. */
  private readonly directories = new Map<string, DeferredDirectory>();
  /** Rootless: lower read-only directories opened up for writing (by real path under the rootfs), restored at the end. */
  private readonly reopened = new Map<string, { parts: string[]; mode: number }>();
  /** Lower directories whose children this layer changes: their times are put back at the end. */
  private readonly touchedParents = new Map<string, { parts: string[]; atime: Date; mtime: Date }>();
  private readonly xattrs = new Set<string>();
  /**
   * Resolved parent directories by the entry's (cleaned) parent path. Valid
   * while nothing that is a directory or a symlink is removed: creating at a
   * missing name can't change how an existing path resolves.
   */
  private readonly parents = new Map<string, ResolvedPath>();
  private unappliedOwners = 0;
  private readonly specialFiles = new SpecialFileMaker();
  private expectedOffset = 0;
  private readonly pacer: EventLoopPacer;

  constructor(
    private readonly root: string,
    private readonly options: ApplyLayerOptions,
  ) {
    this.label = options.label ?? "layer";
    this.pacer = new EventLoopPacer(options.signal);
  }

  warn(message: string): void {
    this.options.onWarning?.(`${this.label}: ${message}`);
  }

  async apply(entry: Entry): Promise<void> {
    await this.pacer.pace();
    this.entries++;
    const header = entry.header;
    this.checkHeaderGap(entry);
    try {
      await this.applyEntry(entry, header);
    } finally {
      // Whatever was not consumed is skipped (directories, links, refused entries).
      entry.resume();
    }
  }

  /** The bytes between two entries are their extended headers: refuse them above the cap. */
  private checkHeaderGap(entry: Entry): void {
    const gap = entry.offset - this.expectedOffset;
    if (gap > MAX_EXTENDED_HEADER_BYTES + 4 * 512) {
      throw new UnsafeLayerError(
        "LAYER_HEADER_TOO_LARGE",
        `${this.label}: ${entry.header.name.slice(0, 80)} has ${gap} bytes of extended headers, over the ${MAX_EXTENDED_HEADER_BYTES}-byte limit`,
      );
    }
    const size = entry.header.type === "directory" ? 0 : entry.header.size;
    this.expectedOffset = entry.offset + 512 + Math.ceil(size / 512) * 512;
  }

  private async applyEntry(entry: Entry, header: Header): Promise<void> {
    const parts = cleanEntryPath(header.name);
    const where = formatEntryPath(parts);
    const whiteout = parseWhiteout(parts);
    if (whiteout.kind === "meta") {
      this.skipped++;
      this.warn(`${where}: AUFS metadata, skipped`);
      return;
    }
    if (whiteout.kind === "file") return this.applyWhiteout(whiteout.target);
    if (whiteout.kind === "opaque") return this.markOpaque(whiteout.directory);
    const type = header.type as string | null;
    if (parts.length === 0) {
      if (type !== "directory") {
        throw new UnsafeLayerError(
          "LAYER_ROOT_REPLACED",
          `${this.label}: entry "${header.name}" names the root of the rootfs but is a ${type ?? "entry of unknown type"}; only a directory may stand there`,
          { where },
        );
      }
      return this.applyDirectory([], header, entry);
    }
    for (const name of xattrNamesOf(header.pax)) this.xattrs.add(name);
    switch (type) {
      case "file":
      case "contiguous-file":
        return this.applyFile(parts, header, entry);
      case "directory":
        return this.applyDirectory(parts, header, entry);
      case "symlink":
        return this.applySymlink(parts, header);
      case "link":
        return this.applyHardlink(parts, header);
      case "character-device":
      case "block-device":
      case "fifo":
        return this.applySpecial(parts, header, type);
      default:
        throw new UnsafeLayerError(
          "LAYER_UNKNOWN_TYPE",
          `${this.label}: ${where} has a tar typeflag this tool does not know how to apply safely`,
          { where },
        );
    }
  }

  private metadataOf(header: Header): EntryMetadata {
    const pax = (header.pax ?? {}) as Record<string, unknown>;
    return {
      mode: header.mode ?? 0,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      mtime: paxTime(pax.mtime) ?? header.mtime ?? new Date(0),
      atime: paxTime(pax.atime),
    };
  }

  /** Owner and mode for a new entry; rootless records non-root owners instead of applying them. */
  private setOwnerAndMode(path: string, parts: string[], isSymlink: boolean, metadata: EntryMetadata): void {
    if (this.options.rootless) this.noteOwner(parts, metadata);
    applyOwnerAndMode(path, isSymlink, metadata, { chown: !this.options.rootless });
  }

  /** Rootless: an owner that can't be applied is counted and reported. */
  private noteOwner(parts: string[], metadata: EntryMetadata): void {
    if (metadata.uid === 0 && metadata.gid === 0) return;
    this.unappliedOwners++;
    this.options.onOwner?.(formatEntryPath(parts), metadata.uid, metadata.gid);
  }

  /** Rootless: gives us write access to a read-only directory (just resolved) until the layer ends. */
  private reopen(directory: ResolvedPath): void {
    const key = directory.parts.join("/");
    if (this.reopened.has(key) || !directory.stats) return;
    this.reopened.set(key, { parts: directory.parts, mode: directory.stats.mode & 0o7777 });
    chmodSync(directory.path, (directory.stats.mode & 0o7777) | 0o700);
  }

  /** Remembers an existing directory's times before its first change in this layer. */
  private noteParent(parent: ResolvedPath): void {
    const key = parent.parts.join("/");
    if (!parent.stats || this.touchedParents.has(key)) return;
    this.touchedParents.set(key, { parts: parent.parts, atime: parent.stats.atime, mtime: parent.stats.mtime });
  }

  private record(parts: string[]): void {
    const key = parts.join("/");
    this.created.add(key);
    for (let i = 1; i < parts.length; i++) this.createdAncestors.add(parts.slice(0, i).join("/"));
  }

  /** The real parent directory of an entry, created (0755) when missing. */
  private async parentOf(parts: string[]): Promise<ResolvedPath> {
    const key = parts.slice(0, -1).join("/");
    const cached = this.parents.get(key);
    if (cached) return cached;
    // Start from the nearest resolved ancestor: the cache is emptied whenever a
    // directory or symlink goes away, so its entries still resolve as they did.
    let depth = parts.length - 2;
    while (depth > 0 && !this.parents.has(parts.slice(0, depth).join("/"))) depth--;
    const ancestor = depth > 0 ? this.parents.get(parts.slice(0, depth).join("/")) : undefined;
    const parent = ancestor
      ? await resolveInRoot(this.root, parts.slice(depth, -1), { followLast: true, from: ancestor.parts })
      : await resolveInRoot(this.root, parts.slice(0, -1), { followLast: true });
    if (parent.stats === undefined) {
      mkdirSync(parent.path, { recursive: true, mode: 0o755 });
      for (let i = 1; i <= parent.parts.length; i++) this.createdAncestors.add(parent.parts.slice(0, i).join("/"));
      parent.stats = await lstatOrUndefined(parent.path);
    } else if (!parent.stats.isDirectory()) {
      throw new UnsafeLayerError(
        "LAYER_PARENT_NOT_DIRECTORY",
        `${this.label}: ${formatEntryPath(parts)} needs ${formatEntryPath(parent.parts)} to be a directory, but it is not (a layer may not put entries under a file)`,
        { where: formatEntryPath(parts) },
      );
    } else {
      this.noteParent(parent);
      if (this.options.rootless && (parent.stats.mode & 0o300) !== 0o300) {
        // A read-only directory of a lower layer: open it for us until the layer ends.
        this.reopen(parent);
      }
    }
    this.parents.set(key, parent);
    return parent;
  }

  /**
   * Where an entry goes: its parent resolved inside the rootfs, and what was
   * at its name removed, unless both are directories (kept, new attributes).
   */
  private async prepare(
    parts: string[],
    keepDirectory: boolean,
  ): Promise<{ path: string; parts: string[]; existingDirectory: boolean }> {
    const parent = await this.parentOf(parts);
    const name = parts[parts.length - 1]!;
    const realParts = [...parent.parts, name];
    const path = join(parent.path, name);
    const existing = await lstatOrUndefined(path);
    let existingDirectory = false;
    if (existing) {
      if (keepDirectory && existing.isDirectory()) existingDirectory = true;
      else await this.remove(path, existing.isDirectory() || existing.isSymbolicLink());
    }
    this.record(realParts);
    return { path, parts: realParts, existingDirectory };
  }

  /** rm -r that never follows a symlink; in rootless mode it first opens read-only directories. */
  private async remove(path: string, changesResolution = true): Promise<void> {
    // A directory or symlink going away can change what any cached parent path resolves to.
    if (changesResolution) this.parents.clear();
    try {
      await rm(path, { recursive: true, force: true });
    } catch (error) {
      if (!this.options.rootless || (error as NodeJS.ErrnoException).code !== "EACCES") throw error;
      await makeTreeWritable(path);
      await rm(path, { recursive: true, force: true });
    }
  }

  private async applyFile(parts: string[], header: Header, entry: Entry): Promise<void> {
    const target = await this.prepare(parts, false);
    // Synchronous calls on purpose: entries are applied one at a time anyway, and a thread-pool
    // round trip per small write or metadata call is what made this latency-bound.
    const fd = openSync(
      target.path,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
      0o600,
    );
    try {
      // tar-stream's entry streams are streamx streams: read them with their own iterator, which
      // also rejects when the tar ends early (Node's pipeline can miss an already-destroyed one).
      for await (const chunk of entry) {
        if (this.options.signal?.aborted) throw new AbortedError();
        let offset = 0;
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
      }
      // Metadata through the descriptor of the file just made (O_EXCL|O_NOFOLLOW: never a symlink); chown before chmod.
      const metadata = this.metadataOf(header);
      if (this.options.rootless) this.noteOwner(target.parts, metadata);
      else fchownSync(fd, metadata.uid, metadata.gid);
      fchmodSync(fd, metadata.mode & 0o7777);
      futimesSync(fd, metadata.atime ?? metadata.mtime, metadata.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private async applyDirectory(parts: string[], header: Header, _entry: Entry): Promise<void> {
    const metadata = this.metadataOf(header);
    let path = this.root;
    let realParts: string[] = [];
    if (parts.length > 0) {
      const target = await this.prepare(parts, true);
      if (!target.existingDirectory) mkdirSync(target.path, { mode: 0o700 });
      path = target.path;
      realParts = target.parts;
    }
    // Owner now; mode and times once the children are written (a 0555 directory stays writable till then).
    if (!this.options.rootless) lchownSync(path, metadata.uid, metadata.gid);
    else this.noteOwner(realParts, metadata);
    const key = realParts.join("/");
    this.directories.delete(key);
    this.directories.set(key, { parts: realParts, metadata });
  }

  private async applySymlink(parts: string[], header: Header): Promise<void> {
    const linkname = header.linkname ?? "";
    if (linkname === "")
      throw new UnsafeLayerError(
        "LAYER_BAD_LINK",
        `${this.label}: symlink ${formatEntryPath(parts)} has an empty target`,
        { where: formatEntryPath(parts) },
      );
    cleanEntryPath(linkname, "symlink target");
    const target = await this.prepare(parts, false);
    // Stored verbatim: it is resolved inside the rootfs only when followed (here or in the container).
    symlinkSync(linkname, target.path);
    const metadata = this.metadataOf(header);
    this.setOwnerAndMode(target.path, target.parts, true, metadata);
    applyTimes(target.path, metadata);
  }

  private async applyHardlink(parts: string[], header: Header): Promise<void> {
    const where = formatEntryPath(parts);
    const linkParts = cleanEntryPath(header.linkname ?? "", "hardlink target");
    if (linkParts.length === 0)
      throw new UnsafeLayerError("LAYER_BAD_LINK", `${this.label}: hardlink ${where} points at the root directory`, {
        where,
      });
    const source = await resolveInRoot(this.root, linkParts);
    if (!source.stats) {
      throw new UnsafeLayerError(
        "LAYER_BAD_LINK",
        `${this.label}: hardlink ${where} points at ${formatEntryPath(linkParts)}, which does not exist (yet) in the rootfs`,
        { where },
      );
    }
    if (source.stats.isDirectory()) {
      throw new UnsafeLayerError(
        "LAYER_BAD_LINK",
        `${this.label}: hardlink ${where} points at the directory ${formatEntryPath(linkParts)}`,
        { where },
      );
    }
    const parent = await this.parentOf(parts);
    const destination = join(parent.path, parts[parts.length - 1]!);
    if (destination === source.path) return;
    const target = await this.prepare(parts, false);
    // link(2) does not follow a symlink source; the link shares the source's metadata, so none is set.
    linkSync(source.path, target.path);
  }

  private async applySpecial(
    parts: string[],
    header: Header,
    type: "character-device" | "block-device" | "fifo",
  ): Promise<void> {
    const where = formatEntryPath(parts);
    if (type !== "fifo" && this.options.rootless) {
      this.skipped++;
      this.warn(`${where}: ${type} skipped (device nodes need root)`);
      return;
    }
    const target = await this.prepare(parts, false);
    const kind: SpecialKind =
      type === "fifo" ? { type } : { type, major: header.devmajor ?? 0, minor: header.devminor ?? 0 };
    // The final component was just removed, and mknod never follows it.
    const made = await this.specialFiles.make(target.path, kind);
    if (!made.ok) {
      this.skipped++;
      this.created.delete(target.parts.join("/"));
      this.warn(`${where}: ${type} not created (${made.message})`);
      return;
    }
    const metadata = this.metadataOf(header);
    this.setOwnerAndMode(target.path, target.parts, false, metadata);
    applyTimes(target.path, metadata);
  }

  private async applyWhiteout(targetParts: string[]): Promise<void> {
    const parent = await resolveInRoot(this.root, targetParts.slice(0, -1), { followLast: true });
    if (!parent.stats?.isDirectory()) return;
    const name = targetParts[targetParts.length - 1]!;
    const key = [...parent.parts, name].join("/");
    // A whiteout hides lower layers only; this layer's own entry stays.
    if (this.created.has(key) || this.createdAncestors.has(key)) return;
    this.noteParent(parent);
    if (this.options.rootless && (parent.stats.mode & 0o300) !== 0o300) this.reopen(parent);
    await this.remove(join(parent.path, name));
  }

  private async markOpaque(directoryParts: string[]): Promise<void> {
    const directory = await resolveInRoot(this.root, directoryParts, { followLast: true });
    if (directory.stats && !directory.stats.isDirectory()) {
      throw new UnsafeLayerError(
        "LAYER_BAD_WHITEOUT",
        `${this.label}: opaque whiteout in ${formatEntryPath(directoryParts)}, which is not a directory`,
        { where: formatEntryPath(directoryParts) },
      );
    }
    if (!directory.stats) mkdirSync(directory.path, { recursive: true, mode: 0o755 });
    else this.noteParent(directory);
    for (let i = 1; i <= directory.parts.length; i++) this.createdAncestors.add(directory.parts.slice(0, i).join("/"));
    this.opaque.set(directory.parts.join("/"), directory.parts);
  }

  /** Every entry is applied: helpers still running can go. */
  close(): void {
    this.specialFiles.close();
  }

  /** Layer end: opaque directories emptied of lower children, then directory modes and times, deepest first. */
  async finish(): Promise<void> {
    for (const parts of this.opaque.values()) {
      const directory = await resolveInRoot(this.root, parts);
      if (directory.parts.join("/") !== parts.join("/") || !directory.stats?.isDirectory()) continue;
      await this.hideLowerChildren(directory.path, parts.join("/"));
    }
    // Every path is resolved again: a component may have become a symlink since it was noted.
    for (const [key, { parts, mode }] of this.reopened) {
      const resolved = await resolveInRoot(this.root, parts);
      if (resolved.parts.join("/") === key && resolved.stats?.isDirectory()) chmodSync(resolved.path, mode);
    }
    const directories = [...this.directories.values()].sort((a, b) => b.parts.length - a.parts.length);
    for (const { parts, metadata } of directories) {
      await this.pacer.pace();
      const resolved = await resolveInRoot(this.root, parts);
      if (resolved.parts.join("/") !== parts.join("/") || !resolved.stats?.isDirectory()) continue;
      chmodSync(resolved.path, metadata.mode & 0o7777);
      applyTimes(resolved.path, metadata);
    }
    // Directories this layer changed but did not list keep the times their own entry gave them.
    for (const [key, { parts, atime, mtime }] of this.touchedParents) {
      if (this.directories.has(key)) continue;
      await this.pacer.pace();
      const resolved = await resolveInRoot(this.root, parts);
      if (resolved.parts.join("/") !== key || !resolved.stats?.isDirectory()) continue;
      applyTimes(resolved.path, { mode: 0, uid: 0, gid: 0, atime, mtime });
    }
    if (this.xattrs.size > 0) {
      this.warn(
        `extended attributes not applied (${[...this.xattrs].slice(0, 5).join(", ")}${this.xattrs.size > 5 ? ", …" : ""}): Node.js cannot set them`,
      );
    }
    if (this.unappliedOwners > 0) {
      this.warn(
        `${this.unappliedOwners} entries owned by other users than root: owners recorded, not applied (rootless)`,
      );
    }
  }

  private async hideLowerChildren(path: string, key: string): Promise<void> {
    for (const name of await readdir(path)) {
      const childKey = key === "" ? name : `${key}/${name}`;
      const childPath = join(path, name);
      if (this.createdAncestors.has(childKey) || this.created.has(childKey)) {
        const stats = await lstatOrUndefined(childPath);
        if (stats?.isDirectory()) await this.hideLowerChildren(childPath, childKey);
        continue;
      }
      await this.remove(childPath);
    }
  }
}
