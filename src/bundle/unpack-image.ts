/**
 * An image of a layout → a runtime bundle: `rootfs/` with the layers applied
 * in order and `config.json` converted from the image config. Everything that
 * can be checked is checked before the bundle is touched (ref, platform,
 * diff_id count, layer media types); on any failure after that the bundle is
 * removed, so a half-applied rootfs is never left looking complete.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, readdir, rm, rmdir, rename, writeFile, chmod, lstat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidContentError, OciImageError } from "../errors.js";
import { layerCompressionOf } from "../image/media-types.js";
import { formatPlatform, hostPlatform, type PlatformSpec } from "../image/platform.js";
import type { Descriptor, ImageConfig } from "../image/types.js";
import { applyLayer } from "../layer/apply-layer.js";
import { makeTreeWritable } from "../layer/make-tree-writable.js";
import { ImageLayout } from "../layout/layout.js";
import { refNameOf } from "../layout/refs.js";
import { resolveImage } from "../layout/resolve-image.js";
import { syncFile } from "../layout/blob-store.js";
import { LayerDecoder } from "./layer-decoder.js";
import { readRootfsFile } from "./read-rootfs-file.js";
import { toRuntimeConfig } from "./runtime-config.js";

export interface UnpackOptions {
  layout: string;
  tag?: string;
  bundle: string;
  platform?: PlatformSpec;
  /** No chown, devices skipped, a user-namespace config (default: when not root). */
  rootless?: boolean;
  hostUid?: number;
  hostGid?: number;
  rootfsOnly?: boolean;
  configOnly?: boolean;
  tty?: boolean;
  /** Disk budget: stop once the layers' tars add up to more than this many bytes. */
  maxSize?: number;
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
  /** One line per finished step. */
  onStep?: (message: string) => void;
  /** The layers to apply, in order, before the first is (for progress). */
  onLayersPlanned?: (layers: readonly Descriptor[]) => void;
  /** A layer begins; `bytesRead` tells its uncompressed bytes read so far (for progress). */
  onLayerStarted?: (index: number, bytesRead: () => number) => void;
}

export interface UnpackResult {
  ref?: string;
  digest: string;
  platform: string;
  layers: number;
  rootfs?: string;
  config?: string;
}

export async function unpackImage(options: UnpackOptions): Promise<UnpackResult> {
  if (options.rootfsOnly && options.configOnly)
    throw new OciImageError("USAGE_CONFLICT", "--rootfs-only and --config-only exclude each other");
  const rootless = options.rootless ?? (typeof process.getuid === "function" && process.getuid() !== 0);
  // The decoder thread starts first: its start-up overlaps opening the layout and resolving the image.
  const decoder = new LayerDecoder(resolve(options.layout));
  try {
    return await unpackWith(decoder, options, rootless);
  } finally {
    await decoder.close();
  }
}

async function unpackWith(decoder: LayerDecoder, options: UnpackOptions, rootless: boolean): Promise<UnpackResult> {
  const layout = await ImageLayout.open(options.layout);
  const entry = await layout.resolveRef(options.tag);
  const platform = options.platform ?? hostPlatform();
  const image = await resolveImage(layout, entry, platform);
  const { manifest, config } = image;
  checkImage(
    config,
    manifest.layers.map((layer) => ({ digest: layer.digest, mediaType: layer.mediaType })),
  );

  const bundle = resolve(options.bundle);
  const createdBundle = await prepareBundle(bundle);
  const rootfs = join(bundle, "rootfs");
  try {
    // --config-only with a user name still needs the image's /etc/passwd: the layers go to a scratch rootfs.
    const scratch =
      options.configOnly && isUserName(config.config?.User)
        ? join(bundle, `.rootfs-${randomBytes(4).toString("hex")}`)
        : undefined;
    const target = options.configOnly ? scratch : rootfs;
    if (target) {
      const ownersLog = rootless && !scratch ? new OwnersLog(join(bundle, OWNERS_FILE)) : undefined;
      try {
        await applyLayers(decoder, manifest.layers, config, target, {
          ...options,
          rootless: scratch ? true : rootless,
          ownersLog,
        });
      } finally {
        ownersLog?.close();
      }
    }
    let configPath: string | undefined;
    if (!options.rootfsOnly) {
      const userDatabase = target
        ? { passwd: await readRootfsFile(target, "/etc/passwd"), group: await readRootfsFile(target, "/etc/group") }
        : {};
      if (scratch) await removeTree(scratch);
      const runtime = toRuntimeConfig(config, {
        rootless,
        hostUid: options.hostUid ?? process.getuid?.() ?? 0,
        hostGid: options.hostGid ?? process.getgid?.() ?? 0,
        tty: options.tty,
        userDatabase,
      });
      if (runtime.process.args.length === 0)
        options.onWarning?.(
          "the image config has neither Entrypoint nor Cmd: set process.args in config.json before running the bundle",
        );
      configPath = join(bundle, "config.json");
      await writeFileAtomic(configPath, `${JSON.stringify(runtime, null, 2)}\n`);
    }
    return {
      ref: refNameOf(entry),
      digest: image.manifestDescriptor.digest,
      platform: formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
      layers: manifest.layers.length,
      rootfs: options.configOnly ? undefined : rootfs,
      config: configPath,
    };
  } catch (error) {
    await removeBundle(bundle, createdBundle);
    throw error;
  }
}

/** Applies every layer, in order, onto `rootfs`, with the disk budget shared by all of them. */
async function applyLayers(
  decoder: LayerDecoder,
  layers: Descriptor[],
  config: ImageConfig,
  rootfs: string,
  options: UnpackOptions & { rootless: boolean; ownersLog?: OwnersLog },
): Promise<void> {
  await mkdir(rootfs, { mode: 0o755 });
  await chmod(rootfs, 0o755);
  let budget = options.maxSize;
  options.onLayersPlanned?.(layers);
  for (const [index, layer] of layers.entries()) {
    const label = `layer ${index + 1}/${layers.length} (${layer.digest.slice(0, 19)}…)`;
    const tar = decoder.decode(layer, { expectedDiffId: config.rootfs.diff_ids[index], maxUncompressedBytes: budget });
    options.onLayerStarted?.(index, () => tar.uncompressedSize());
    const ownersLog = options.ownersLog;
    const result = await applyLayer(tar.tar, rootfs, {
      rootless: options.rootless,
      label,
      signal: options.signal,
      onWarning: options.onWarning,
      onOwner: ownersLog ? (path, uid, gid) => ownersLog.add(path, uid, gid) : undefined,
    });
    if (budget !== undefined) budget -= tar.uncompressedSize();
    options.onStep?.(`applied ${label}: ${result.entries} entries`);
  }
}

function isUserName(user: string | undefined): boolean {
  return user !== undefined && user.trim() !== "" && !/^\d+(:\d+)?$/.test(user.trim());
}

/** Rootless: the owners the layers asked for and could not get, one `uid:gid<TAB>path` line each, in layer order. */
export const OWNERS_FILE = "rootfs-owners.tsv";

class OwnersLog {
  private fd: number | undefined;
  constructor(private readonly path: string) {}
  add(entryPath: string, uid: number, gid: number): void {
    this.fd ??= openSync(this.path, "wx", 0o644);
    writeSync(
      this.fd,
      `${uid}:${gid}\t${entryPath.replace(/[\t\n\\]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\\\"))}\n`,
    );
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

async function removeTree(path: string): Promise<void> {
  await makeTreeWritable(path);
  await rm(path, { recursive: true, force: true });
}

/** Refuses what can be known to fail before a byte is written. */
function checkImage(config: ImageConfig, layers: { digest: string; mediaType: string }[]): void {
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
    throw new InvalidContentError(
      "DIFF_ID_COUNT",
      `the image config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} diff_ids for ${layers.length} layers; they must match one to one`,
      { pointer: "/rootfs/diff_ids" },
    );
  }
  layers.forEach((layer, index) => {
    if (!layerCompressionOf(layer.mediaType)) {
      throw new InvalidContentError(
        "LAYER_MEDIA_TYPE",
        `layer ${index} (${layer.digest}) has media type ${layer.mediaType}, which is not a layer this tool can apply`,
        { where: layer.digest, pointer: `/layers/${index}/mediaType` },
      );
    }
  });
}

/** The bundle directory, empty or new, mode 0700. Returns whether it was created here. */
async function prepareBundle(bundle: string): Promise<boolean> {
  let existed = true;
  try {
    const stats = await lstat(bundle);
    if (!stats.isDirectory())
      throw new OciImageError(
        "BUNDLE_NOT_EMPTY",
        `${bundle} exists and is not a directory; give an empty or new directory for the bundle`,
        { where: bundle },
      );
    if ((await readdir(bundle)).length > 0)
      throw new OciImageError(
        "BUNDLE_NOT_EMPTY",
        `${bundle} is not empty; give an empty or new directory for the bundle`,
        { where: bundle },
      );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    existed = false;
    await mkdir(bundle, { recursive: true, mode: 0o700 });
  }
  await chmod(bundle, 0o700);
  return !existed;
}

/** On failure: the bundle goes (only its contents when it was there before). */
async function removeBundle(bundle: string, created: boolean): Promise<void> {
  try {
    await makeTreeWritable(bundle);
    for (const name of await readdir(bundle)) await rm(join(bundle, name), { recursive: true, force: true });
    if (created) await rmdir(bundle);
  } catch {
    // Best effort: the original error is what matters.
  }
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, text, { mode: 0o644, flag: "wx" });
    await syncFile(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
