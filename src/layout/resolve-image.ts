/** From an index entry to one image: pick the platform in (nested) indexes, read manifest and config. */
import { InvalidContentError, NotFoundError } from "../errors.js";
import { checkIndexDepth } from "../image/index-depth.js";
import { isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import { formatPlatform, platformMatches, type PlatformSpec } from "../image/platform.js";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from "../image/types.js";
import type { BlobStore } from "./blob-store.js";

export interface ResolvedImage {
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
}

export async function resolveImage(
  store: BlobStore,
  descriptor: Descriptor,
  platform: PlatformSpec,
): Promise<ResolvedImage> {
  let current = descriptor;
  for (let depth = 0; isIndexMediaType(current.mediaType); depth++) {
    checkIndexDepth(depth, descriptor.digest);
    const index = await store.readJsonBlob<ImageIndex>(current);
    if (!Array.isArray(index.manifests))
      throw new InvalidContentError("INDEX_INVALID", `${current.digest} is not an image index`, {
        where: current.digest,
      });
    const match = index.manifests.find((entry) => platformMatches(platform, entry.platform));
    if (!match) {
      const available = index.manifests.map((entry) =>
        entry.platform ? formatPlatform(entry.platform) : "(no platform)",
      );
      const choices = `available: ${available.join(", ") || "none"} (choose one with --platform)`;
      throw new NotFoundError(
        "PLATFORM_UNKNOWN",
        `no image for platform ${formatPlatform(platform)} in ${current.digest}; ${choices}`,
        { where: current.digest },
      );
    }
    current = match;
  }
  if (!isManifestMediaType(current.mediaType)) {
    throw new InvalidContentError(
      "MEDIA_TYPE_UNSUPPORTED",
      `${current.digest} has media type ${current.mediaType}, not an image manifest or index`,
      { where: current.digest },
    );
  }
  const manifest = await store.readJsonBlob<ImageManifest>(current);
  if (typeof manifest !== "object" || manifest === null || !manifest.config || !Array.isArray(manifest.layers)) {
    throw new InvalidContentError(
      "MANIFEST_INVALID",
      `${current.digest} is not an image manifest (config and layers required)`,
      { where: current.digest },
    );
  }
  const config = await store.readJsonBlob<ImageConfig>(manifest.config);
  return { manifestDescriptor: current, manifest, config };
}
