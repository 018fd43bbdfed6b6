/**
 * The base of `create --base`: one image of a layout (read only, never
 * written), resolved to a platform and checked whole before anything of the
 * new image is written: an image (not an artifact) with layers this tool can
 * read, every layer blob present with its size and digest.
 */
import { once } from "node:events";
import { DigestMismatchError, InvalidContentError, NotFoundError } from "../errors.js";
import { convertDescriptor, convertDockerManifest, ociMediaTypeOf } from "../image/docker-to-oci.js";
import { MediaType, isIndexMediaType, layerCompressionOf } from "../image/media-types.js";
import { formatPlatform, platformMatches, type PlatformSpec } from "../image/platform.js";
import { CONTAINERD_NAME_ANNOTATION, type Descriptor, type ImageConfig, type ImageManifest } from "../image/types.js";
import { ImageLayout } from "../layout/layout.js";
import { checkedDocument } from "../layout/read-documents.js";
import { resolveImage } from "../layout/resolve-image.js";
import { runLimited } from "../util/concurrency.js";

/** Where the base image is. */
export interface BaseImageOptions {
  /** The layout holding it (read only). */
  layout: string;
  /** Its ref name; may be omitted when the layout holds one image. */
  tag?: string;
  /** The image to take from a base that is an index; default this machine's platform. */
  platform?: PlatformSpec;
  /** The name recorded in the base.name annotation; default the base's own name, else its tag. */
  name?: string;
}

export interface BaseImage {
  store: ImageLayout;
  /** The descriptor of the base's image manifest (its digest is base.digest). */
  manifest: Descriptor;
  config: ImageConfig;
  /** The base's layers, media types in OCI terms, blobs unchanged. */
  layers: Descriptor[];
  name?: string;
}

/** Opens, resolves and checks the base; throws before anything is written when any of it is wrong. */
export async function loadBaseImage(
  options: BaseImageOptions,
  host: PlatformSpec,
  signal?: AbortSignal,
): Promise<BaseImage> {
  const store = await ImageLayout.open(options.layout);
  const entry = await store.resolveRef(options.tag);
  const wanted = options.platform ?? host;
  const image = await resolveImage(store, entry, wanted);
  const where = `base ${options.layout}${options.tag !== undefined ? `:${options.tag}` : ""}`;
  checkIsImage(image.manifest.config, image.manifest.layers, image.manifest.artifactType, where);
  const manifest = await checkedManifest(image.manifest, image.manifestDescriptor, where);
  const config = await store.readConfig(manifest.config);
  if (!isIndexMediaType(entry.mediaType) && options.platform && !platformMatches(options.platform, config)) {
    throw new NotFoundError(
      "PLATFORM_UNKNOWN",
      `${where} is for ${formatPlatform(config)}, not ${formatPlatform(options.platform)}; ` +
        `give a base for that platform or leave --platform out`,
      { where: options.layout },
    );
  }
  const layers = manifest.layers.map(convertDescriptor);
  if (config.rootfs.diff_ids.length !== layers.length)
    throw new InvalidContentError(
      "DIFF_ID_COUNT",
      `${where}: its config lists ${config.rootfs.diff_ids.length} diff_ids for ${layers.length} layers`,
      { where: manifest.config.digest },
    );
  await verifyLayerBlobs(store, layers, where, signal);
  const name = options.name ?? entry.annotations?.[CONTAINERD_NAME_ANNOTATION] ?? options.tag;
  return { store, manifest: image.manifestDescriptor, config, layers, ...(name !== undefined ? { name } : {}) };
}

/** The manifest in OCI terms (a Docker one converted), checked against the image-spec before any of it is used. */
async function checkedManifest(manifest: ImageManifest, descriptor: Descriptor, where: string): Promise<ImageManifest> {
  const docker = manifest.mediaType === MediaType.dockerManifest || descriptor.mediaType === MediaType.dockerManifest;
  const converted = docker ? convertDockerManifest(manifest as unknown as Record<string, unknown>) : manifest;
  try {
    return await checkedDocument<ImageManifest>("manifest", converted, descriptor.digest);
  } catch (error) {
    if (!(error instanceof InvalidContentError)) throw error;
    const context = { where: error.where, pointer: error.pointer, cause: error };
    throw new InvalidContentError(error.code, `${where}: ${error.message}`, context);
  }
}

/** An artifact (a manifest whose config is not an image config, or whose layers are not layers) is no base. */
function checkIsImage(
  config: Descriptor,
  layers: readonly Descriptor[],
  artifactType: string | undefined,
  where: string,
): void {
  const configType = ociMediaTypeOf(config.mediaType);
  const notLayer = layers.find((layer) => layerCompressionOf(layer.mediaType) === undefined);
  if (artifactType === undefined && configType === MediaType.ociConfig && !notLayer) return;
  const what = notLayer
    ? `a layer of media type ${notLayer.mediaType}`
    : `config media type ${config.mediaType}${artifactType ? ` (artifact type ${artifactType})` : ""}`;
  throw new InvalidContentError(
    "BASE_NOT_IMAGE",
    `${where} is not a container image (it has ${what}); give an image to build on`,
    { where: config.digest },
  );
}

/** Reads every layer blob once, checking its size and digest (each read stream errors on a mismatch). */
async function verifyLayerBlobs(
  store: ImageLayout,
  layers: readonly Descriptor[],
  where: string,
  signal?: AbortSignal,
) {
  await runLimited(
    layers.map((layer) => async () => {
      signal?.throwIfAborted();
      try {
        const stream = await store.openBlob(layer);
        stream.resume();
        await once(stream, "end", { signal });
      } catch (error) {
        throw inBaseTerms(error, layer.digest, where);
      }
    }),
    2,
  );
}

/** A missing or corrupt blob, said as a base layer of this base, with what to do. */
function inBaseTerms(error: unknown, digest: string, where: string): unknown {
  const context = { where: digest, cause: error };
  if (error instanceof NotFoundError && error.code === "BLOB_UNKNOWN")
    return new NotFoundError("BLOB_UNKNOWN", `layer ${digest} of ${where} is missing; fetch the base again`, context);
  if (error instanceof DigestMismatchError)
    return new DigestMismatchError(
      `layer ${digest} of ${where} is corrupt (${error.message}); fetch the base again`,
      context,
    );
  return error;
}
