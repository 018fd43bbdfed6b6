/**
 * `createImage`: a directory becomes an image of one layer in a layout, alone
 * or on a base image's layers (taken by reference, never recompressed). The
 * layer is tarred, compressed and hashed (both ways) in one pass straight into
 * the blob store; then the base's blobs, the config, the manifest and the index entry. Nothing is
 * added to the index unless every blob is in place, and a layout this call
 * created is removed again when it fails.
 */
import { readdir, realpath, rm, stat } from "node:fs/promises";
import { join, relative, resolve, sep, isAbsolute } from "node:path";
import { InvalidSettingError, NotFoundError, OciImageError } from "../errors.js";
import {
  buildImageConfig,
  buildManifest,
  platformOf,
  resolveBuildSettings,
  type BuildSettings,
  type ImageSettings,
} from "../image/build-config.js";
import { buildConfigOnBase, buildManifestOnBase, platformOfConfig } from "../image/base-config.js";
import { MediaType, type LayerCompression } from "../image/media-types.js";
import type { Descriptor, ImageConfig, ImageManifest } from "../image/types.js";
import { checkCompressionLevel, createLayerStream, type LayerStream } from "../layer/layer-writer.js";
import { whiteoutEntryFor } from "../layer/added-whiteouts.js";
import { importBlob } from "../layout/import-blob.js";
import { ImageLayout } from "../layout/layout.js";
import { loadBaseImage, type BaseImage, type BaseImageOptions } from "./base-image.js";

/** The image's settings (checked first: an InvalidSettingError naming the bad one), and where it goes. */
export interface CreateImageOptions extends ImageSettings {
  /** The directory whose contents become the layer. */
  rootfs: string;
  /** The layout directory (created when missing or empty). */
  layout: string;
  /** The ref name in index.json; default `latest`. */
  tag?: string;
  /** Default gzip. */
  compression?: LayerCompression;
  /** gzip 0-9, zstd 1-22; the codec's default when omitted. */
  level?: number;
  /** The clock when `created` is not given, for tests. */
  now?: Date;
  signal?: AbortSignal;
  /** The image to build on: its layers come first, its config is the starting point. */
  base?: BaseImageOptions;
  /** Paths of the base to delete in the new layer (whiteouts), e.g. `/etc/motd`. */
  remove?: string[];
  /** Store `.wh.` files of the directory as whiteouts (else they are refused). */
  whiteouts?: boolean;
  /** Compressed layer bytes written so far. */
  onLayerProgress?: (bytes: number) => void;
  /** The tree's file bytes read and entries stored so far. */
  onTreeProgress?: (bytesRead: number, entries: number) => void;
}

export interface CreateImageResult {
  ref: string;
  /** The manifest's digest. */
  digest: string;
  manifest: Descriptor;
  config: Descriptor;
  layer: { digest: string; diffId: string; size: number; mediaType: string; uncompressedSize: number };
  imageConfig: ImageConfig;
  /** With a base: its manifest digest and how many of its layers come first. */
  base?: { digest: string; layers: number };
  /** The manifest digest of an older index entry of the same ref that this one replaced. */
  replaced?: string;
}

export async function createImage(options: CreateImageOptions): Promise<CreateImageResult> {
  const tag = options.tag ?? "latest";
  const compression = options.compression ?? "gzip";
  const settings = resolveBuildSettings(options, options.now);
  checkCompressionLevel(compression, options.level);
  if (options.remove?.length && !options.base)
    throw new InvalidSettingError("remove", "needs a base image to delete from");
  const removals = [...new Set((options.remove ?? []).map(whiteoutEntryFor))];
  const rootfs = await checkRootfs(options.rootfs);
  await checkLayoutOutsideRootfs(rootfs, options.layout);
  // The whole base is checked before the target is touched.
  const base = options.base
    ? await loadBaseImage(
        { ...options.base, platform: options.base.platform ?? (options.platform && settings.platform) },
        settings.platform,
        options.signal,
      )
    : undefined;
  const { layout, undo } = await openLayout(options.layout);
  try {
    const { layer, layerDescriptor } = await writeLayer(layout, rootfs, settings, removals, options);
    if (base) for (const blob of base.layers) await importBlob(base.store, layout, blob, options.signal);
    const { config, manifest, imageConfig } = await storeDocuments(
      layout,
      settings,
      layer.diffId(),
      layerDescriptor,
      base,
    );
    options.signal?.throwIfAborted();
    const { replaced } = await layout.addRef(manifest, tag, options.signal);
    return {
      ref: tag,
      digest: manifest.digest,
      manifest,
      config,
      layer: { ...layerDescriptor, diffId: layer.diffId(), uncompressedSize: layer.uncompressedSize() },
      imageConfig,
      ...(base ? { base: { digest: base.manifest.digest, layers: base.layers.length } } : {}),
      ...(replaced ? { replaced: replaced.digest } : {}),
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

/** The new layer, tarred, compressed and hashed in one pass into the blob store. */
async function writeLayer(
  layout: ImageLayout,
  rootfs: string,
  settings: BuildSettings,
  removals: string[],
  options: CreateImageOptions,
): Promise<{ layer: LayerStream; layerDescriptor: Descriptor }> {
  const layer = createLayerStream(rootfs, {
    compression: options.compression ?? "gzip",
    level: options.level,
    owner: settings.owner,
    clampMtime: settings.reproducible ? settings.createdSeconds : undefined,
    whiteouts: options.whiteouts,
    removals,
    signal: options.signal,
    onEntry: options.onTreeProgress,
  });
  const stored = await layout.putBlob(layer.stream, { signal: options.signal, onProgress: options.onLayerProgress });
  return { layer, layerDescriptor: { mediaType: layer.mediaType, digest: stored.digest, size: stored.size } };
}

/** The config and manifest, on the base when there is one, stored as blobs. */
async function storeDocuments(
  layout: ImageLayout,
  settings: BuildSettings,
  diffId: string,
  layer: Descriptor,
  base: BaseImage | undefined,
): Promise<{ config: Descriptor; manifest: Descriptor; imageConfig: ImageConfig }> {
  const imageConfig = base ? buildConfigOnBase(base.config, settings, diffId) : buildImageConfig(settings, diffId);
  const storedConfig = await layout.putBlobBytes(Buffer.from(JSON.stringify(imageConfig)));
  const config: Descriptor = { mediaType: MediaType.ociConfig, digest: storedConfig.digest, size: storedConfig.size };
  const manifestDocument: ImageManifest = base
    ? buildManifestOnBase(settings, config, layer, {
        name: base.name,
        digest: base.manifest.digest,
        layers: base.layers,
      })
    : buildManifest(settings, config, layer);
  const storedManifest = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifestDocument)));
  const manifest: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: storedManifest.digest,
    size: storedManifest.size,
    platform: base ? platformOfConfig(imageConfig) : platformOf(settings),
  };
  return { config, manifest, imageConfig };
}

async function checkRootfs(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new NotFoundError("ROOTFS_MISSING", `${path} does not exist: give the directory to build the image from`, {
        where: path,
        cause: error,
      });
    throw new OciImageError("ROOTFS_UNREADABLE", `cannot read ${path}: ${(error as Error).message}`, {
      where: path,
      cause: error,
    });
  }
  if (!info.isDirectory())
    throw new OciImageError(
      "ROOTFS_NOT_DIRECTORY",
      `${path} is not a directory: give the directory to build the image from`,
      { where: path },
    );
  return realpath(path);
}

/** A layout inside the tree would be tarred into its own layer while it is written. */
async function checkLayoutOutsideRootfs(rootfs: string, layoutPath: string): Promise<void> {
  let layout = resolve(layoutPath);
  // The layout may not exist yet: compare its nearest existing ancestor.
  const missing: string[] = [];
  for (;;) {
    try {
      layout = join(await realpath(layout), ...missing);
      break;
    } catch {
      const parent = resolve(layout, "..");
      if (parent === layout) break;
      missing.unshift(relative(parent, layout));
      layout = parent;
    }
  }
  const inside = relative(rootfs, layout);
  if (inside === "" || (!inside.startsWith(`..${sep}`) && inside !== ".." && !isAbsolute(inside))) {
    throw new OciImageError(
      "LAYOUT_INSIDE_ROOTFS",
      `the layout ${layoutPath} is inside the directory being imaged (${rootfs}); write it somewhere else`,
      { where: layoutPath },
    );
  }
}

/** Opens or creates the layout, with a way to remove what this call created should it fail. */
async function openLayout(path: string): Promise<{ layout: ImageLayout; undo: () => Promise<void> }> {
  const root = resolve(path);
  let existed = true;
  let wasEmpty = false;
  try {
    if (!(await stat(root)).isDirectory())
      throw new OciImageError(
        "LAYOUT_NOT_DIRECTORY",
        `${path} is not a directory: give a directory for the layout (it is created when missing)`,
        { where: path },
      );
    wasEmpty = (await readdir(root)).length === 0;
  } catch (error) {
    // Any other file-system error (ENOTDIR on the way, EACCES...) goes up as it is, errno and path intact.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    existed = false;
  }
  const layout = await ImageLayout.openOrCreate(root);
  const undo = async () => {
    if (!existed) await rm(root, { recursive: true, force: true }).catch(() => {});
    else if (wasEmpty)
      for (const name of ["oci-layout", "index.json", "blobs"])
        await rm(join(root, name), { recursive: true, force: true }).catch(() => {});
  };
  return { layout, undo };
}
