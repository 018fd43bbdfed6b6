/**
 * Applies one layer tar onto a rootfs (layer.md "applying changesets"), not a
 * plain extract: whiteouts delete lower paths, an opaque whiteout hides the
 * lower children of its directory (never this layer's own entries, wherever
 * it stands), a directory over a directory keeps it and takes the new
 * attributes, anything else replaces what was there. The tar is read by
 * tar-reader.ts, each name interpreted by entry-policy.ts (the rules validate
 * reports), and each entry written by entry-writers.ts; root or rootless is
 * chosen once (apply-mode.ts). Entries stream to disk; memory grows with the
 * number of entries, never with their size.
 */
import type { Readable } from "node:stream";
import { UnsafeLayerError } from "../errors.js";
import { ApplyContext } from "./apply-context.js";
import { RootlessMode, rootMode } from "./apply-mode.js";
import { deviceNumbersOf, metadataOf, xattrNamesOf } from "./entry-metadata.js";
import { interpretEntry } from "./entry-policy.js";
import { EventLoopPacer } from "./event-loop-pacer.js";
import { writeDirectory, writeFile, writeHardlink, writeSpecial, writeSymlink } from "./entry-writers.js";
import { TarReader, type TarEntry } from "./tar-reader.js";

export { MAX_EXTENDED_HEADER_BYTES } from "./tar-reader.js";

export interface ApplyLayerOptions {
  /** No chown (owners are only reported), device nodes skipped. */
  rootless: boolean;
  onWarning?: (message: string) => void;
  /** Rootless: called for entries whose owner is not 0:0 (the owner is not applied). */
  onOwner?: (path: string, uid: number, gid: number) => void;
  /** Checked before each entry and each chunk of the tar. */
  signal?: AbortSignal;
  /** Names the layer in messages (its digest). */
  label?: string;
}

export interface ApplyLayerResult {
  entries: number;
  /** Entries skipped with a warning (devices when rootless, AUFS metadata). */
  skipped: number;
}

/** Reads `tar` to its end, applying each entry under `rootfs`. Rejects on the first unsafe entry. */
export async function applyLayer(tar: Readable, rootfs: string, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  const label = options.label ?? "layer";
  const mode = options.rootless ? new RootlessMode(options.onOwner) : rootMode();
  const pacer = new EventLoopPacer(options.signal);
  const context = new ApplyContext(rootfs, label, mode, pacer, options.onWarning);
  const reader = new TarReader(tar, { label, signal: options.signal });
  try {
    let globalHeaders = 0;
    for await (const entry of reader) {
      await pacer.pace();
      if (reader.end.globalHeaders > globalHeaders) {
        // Their records would otherwise reach later entries (a path, a size).
        context.warn("it has a PAX global header; its records are ignored");
        globalHeaders = reader.end.globalHeaders;
      }
      context.entries++;
      await applyEntry(context, entry);
    }
  } catch (error) {
    context.close();
    await reader.close();
    tar.destroy();
    throw error;
  }
  context.close();
  await context.finish();
  if (reader.end.dataAfterEnd) context.warn("data after the tar's end-of-archive marker is ignored");
  return { entries: context.entries, skipped: context.skipped };
}

async function applyEntry(context: ApplyContext, entry: TarEntry): Promise<void> {
  const { header } = entry;
  const meaning = interpretEntry(header);
  const fatal = meaning.findings.find((finding) => finding.fatal);
  if (fatal || !meaning.meaning)
    throw new UnsafeLayerError(fatal?.code ?? "LAYER_INVALID_ENTRY", `${context.label}: ${fatal?.message}`, {
      where: meaning.where,
    });
  const { parts, where } = meaning;
  const kind = meaning.meaning;
  if (kind.kind === "meta") {
    context.skipped++;
    context.warn(`${where}: AUFS metadata, skipped`);
    return;
  }
  if (kind.kind === "whiteout") return context.whiteouts.whiteout(kind.target);
  if (kind.kind === "opaque") return context.whiteouts.markOpaque(kind.directory);
  const metadata = metadataOf(header, where, context.label);
  for (const name of xattrNamesOf(header.pax)) context.xattrs.add(name);
  switch (kind.type) {
    case "file":
    case "contiguous-file":
      return writeFile(context, parts, entry, metadata);
    case "directory":
      return writeDirectory(context, parts, metadata);
    case "symlink":
      return writeSymlink(context, parts, header.linkname, metadata);
    case "link":
      return writeHardlink(context, parts, kind.link!);
    case "fifo":
      return writeSpecial(context, parts, { type: "fifo" }, metadata);
    case "character-device":
    case "block-device":
      return writeSpecial(
        context,
        parts,
        { type: kind.type, ...deviceNumbersOf(header, where, context.label) },
        metadata,
      );
  }
}
