/**
 * An image of a layout → a runtime bundle: `rootfs/` with the layers applied
 * in order and `config.json` converted from the image config. Everything that
 * can be checked is checked before the bundle is touched (ref, platform,
 * diff_id count, layer media types). The bundle is built beside the target and
 * renamed onto it when complete (bundle-directory.ts): a failure, an interrupt
 * or a kill never leaves a half-applied rootfs at the target.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidContentError, OciImageError } from "../errors.js";
import { layerCompressionOf } from "../image/media-types.js";
import { removeTree } from "../layer/make-tree-writable.js";
import { formatPlatform, hostPlatform, type PlatformSpec } from "../image/platform.js";
import type { Descriptor, ImageConfig } from "../image/types.js";
import { applyLayer } from "../layer/apply-layer.js";
import { ImageLayout } from "../layout/layout.js";
import { refNameOf } from "../layout/refs.js";
import { resolveImage } from "../layout/resolve-image.js";
import { checkBundleTarget, commitBundle, createStagingDirectory, discardStaging } from "./bundle-directory.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { LayerDecoder } from "./layer-decoder.js";
import { OWNERS_FILE, OwnersLog } from "./owners-log.js";
import { readRootfsFile } from "./read-rootfs-file.js";
import { hasProcessArgs, toRuntimeConfig } from "./runtime-config.js";

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
  await checkBundleTarget(bundle);
  const staging = await createStagingDirectory(bundle);
  try {
    const written = await writeBundle(decoder, staging.path, manifest.layers, config, { ...options, rootless });
    await commitBundle(staging, bundle, options.signal);
    return {
      ref: refNameOf(entry),
      digest: image.manifestDescriptor.digest,
      platform: formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
      layers: manifest.layers.length,
      rootfs: written.rootfs ? join(bundle, "rootfs") : undefined,
      config: written.config ? join(bundle, "config.json") : undefined,
    };
  } catch (error) {
    await discardStaging(staging.path, options.signal?.aborted === true);
    throw error;
  }
}

/** rootfs/ and config.json in the staging directory, as the options ask. */
async function writeBundle(
  decoder: LayerDecoder,
  staging: string,
  layers: Descriptor[],
  config: ImageConfig,
  options: UnpackOptions & { rootless: boolean },
): Promise<{ rootfs: boolean; config: boolean }> {
  // --config-only with a user name still needs the image's /etc/passwd: the layers go to a scratch rootfs.
  const scratch =
    options.configOnly && isUserName(config.config?.User)
      ? join(staging, `.rootfs-${randomBytes(4).toString("hex")}`)
      : undefined;
  const target = options.configOnly ? scratch : join(staging, "rootfs");
  if (target) {
    const ownersLog = options.rootless && !scratch ? new OwnersLog(join(staging, OWNERS_FILE)) : undefined;
    try {
      await applyLayers(decoder, layers, config, target, {
        ...options,
        rootless: scratch ? true : options.rootless,
        ownersLog,
      });
    } finally {
      ownersLog?.close();
    }
  }
  if (options.rootfsOnly) return { rootfs: true, config: false };
  const userDatabase = target
    ? { passwd: await readRootfsFile(target, "/etc/passwd"), group: await readRootfsFile(target, "/etc/group") }
    : {};
  if (scratch) await removeTree(scratch);
  const runtime = toRuntimeConfig(config, {
    rootless: options.rootless,
    hostUid: options.hostUid ?? process.getuid?.() ?? 0,
    hostGid: options.hostGid ?? process.getgid?.() ?? 0,
    tty: options.tty,
    userDatabase,
  });
  if (!hasProcessArgs(config))
    options.onWarning?.(
      `the image config has neither Entrypoint nor Cmd: config.json runs ${JSON.stringify(runtime.process.args)} ` +
        "(as runc spec writes); set process.args to run something else",
    );
  await writeFileAtomic(join(staging, "config.json"), `${JSON.stringify(runtime, null, 2)}\n`);
  return { rootfs: !options.configOnly, config: true };
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

export { OWNERS_FILE } from "./owners-log.js";

/** Refuses what can be known to fail before a byte is written. */
function checkImage(config: ImageConfig, layers: { digest: string; mediaType: string }[]): void {
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
    throw new InvalidContentError(
      "DIFF_ID_COUNT",
      `the image config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} diff_ids ` +
        `for ${layers.length} layers; they must match one to one`,
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
