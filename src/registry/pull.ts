/**
 * Pulling an image: resolve the reference to a manifest (choosing a platform
 * from an index, or keeping them all), download config and layers a few at a
 * time into a blob sink, convert Docker documents to OCI, and store the
 * documents last so that whatever is stored is complete. The caller adds the
 * returned descriptor to its index; nothing here knows about layouts.
 */
import { NotFoundError } from "../errors.js";
import { checkIndexDepth } from "../image/index-depth.js";
import { convertDockerManifest, convertDockerManifestList, isDockerMediaType } from "../image/docker-to-oci.js";
import { MediaType, isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import { formatPlatform, hostPlatform, platformMatches, type PlatformSpec } from "../image/platform.js";
import type { Descriptor } from "../image/types.js";
import { withAdvice } from "./advice.js";
import { BlobDownloader } from "./blob-download.js";
import { checkDescriptors } from "./descriptors.js";
import { checkImageConfig, isImageConfig } from "./image-config-check.js";
import { fetchManifest, type FetchedManifest } from "./manifest-fetch.js";
import type { PullOptions, PullResult } from "./pull-types.js";
import { formatName, formatReference } from "./reference.js";

export type { BlobProgress, BlobSink, PullEvents, PullOptions, PullResult } from "./pull-types.js";

export async function pullImage(options: PullOptions): Promise<PullResult> {
  return new Puller(options).run();
}

class Puller {
  private readonly blobs: BlobDownloader;
  private readonly stop = new AbortController();
  private readonly name: string;
  private converted = false;

  constructor(private readonly options: PullOptions) {
    this.name = formatReference(options.reference);
    this.blobs = new BlobDownloader(options, this.name, this.stop);
    options.signal?.addEventListener("abort", () => this.stop.abort(options.signal!.reason), { once: true });
  }

  async run(): Promise<PullResult> {
    const { signal } = this.options;
    const forward = () => this.stop.abort(signal!.reason);
    signal?.addEventListener("abort", forward, { once: true });
    try {
      return await this.pull();
    } finally {
      signal?.removeEventListener("abort", forward);
    }
  }

  private async pull(): Promise<PullResult> {
    const { reference, platform } = this.options;
    const top = await fetchManifest(this.options.client, {
      repository: reference.repository,
      reference: reference.digest ?? reference.tag!,
      name: this.name,
    });
    let descriptor: Descriptor;
    let platformText: string;
    if (top.kind === "index" && platform === "all") {
      descriptor = await this.storeIndex(top, 0);
      platformText = "all";
    } else if (top.kind === "index") {
      const wanted = platform && platform !== "all" ? platform : hostPlatform();
      const { fetched, entry } = await this.choosePlatform(top, wanted, 0);
      const stored = await this.storeImage(fetched);
      descriptor = { ...stored.descriptor, ...(entry.platform ? { platform: entry.platform } : {}) };
      platformText = stored.platform ?? formatPlatform(entry.platform ?? wanted);
    } else {
      const stored = await this.storeImage(top, platform === "all" ? undefined : platform);
      descriptor = stored.descriptor;
      platformText = stored.platform ?? "unknown";
    }
    return {
      descriptor,
      sourceDigest: top.digest,
      sourceMediaType: top.mediaType,
      platform: platformText,
      converted: this.converted,
      blobs: { ...this.blobs.stats },
    };
  }

  /** The first entry of an index for `platform`, fetched; nested indexes are searched too. */
  private async choosePlatform(
    index: FetchedManifest,
    platform: PlatformSpec,
    depth: number,
  ): Promise<{ fetched: FetchedManifest; entry: Descriptor }> {
    const children = checkDescriptors(index.document.manifests, "/manifests", this.name);
    const entry = children.find(
      (child) =>
        (isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType)) &&
        platformMatches(platform, child.platform),
    );
    if (!entry) {
      const available = [
        ...new Set(children.filter((child) => child.platform).map((child) => formatPlatform(child.platform!))),
      ];
      const error = new NotFoundError(
        "PLATFORM_UNKNOWN",
        `${this.name} has no image for ${formatPlatform(platform)}; available: ${available.join(", ") || "none named"}`,
        { where: this.name },
      );
      throw withAdvice(error, "choose-platform");
    }
    const fetched = await this.fetchChild(entry);
    if (fetched.kind === "index") {
      checkIndexDepth(depth + 1, this.name);
      return this.choosePlatform(fetched, platform, depth + 1);
    }
    return { fetched, entry };
  }

  private fetchChild(entry: Descriptor): Promise<FetchedManifest> {
    const { reference } = this.options;
    return fetchManifest(this.options.client, {
      repository: reference.repository,
      reference: entry.digest,
      expected: { digest: entry.digest, size: entry.size, mediaType: entry.mediaType },
      name: `${formatName(reference)}@${entry.digest}`,
    });
  }

  /** Every image of an index, then the index itself (converted when Docker's or when a child changed). */
  private async storeIndex(index: FetchedManifest, depth: number): Promise<Descriptor> {
    checkIndexDepth(depth, this.name);
    const children = checkDescriptors(index.document.manifests, "/manifests", this.name);
    const replacements = new Map<string, Descriptor>();
    const isDocument = (child: Descriptor) => isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType);
    const others = children.filter((child) => !isDocument(child));
    if (others.length > 0) this.options.events?.blobsPlanned?.(others);
    await this.blobs.all(
      children.map(async (child) => {
        if (isDocument(child)) {
          const fetched = await this.fetchChild(child);
          const stored =
            fetched.kind === "index"
              ? await this.storeIndex(fetched, depth + 1)
              : (await this.storeImage(fetched)).descriptor;
          if (stored.digest !== child.digest || stored.mediaType !== child.mediaType)
            replacements.set(child.digest, stored);
        } else {
          // Not a document this tool reads: keep it as a blob, byte for byte.
          await this.blobs.fetch(child);
        }
      }),
    );
    let bytes = index.bytes;
    let mediaType = index.mediaType;
    if (isDockerMediaType(index.mediaType)) {
      bytes = Buffer.from(JSON.stringify(convertDockerManifestList(index.document, replacements)));
      mediaType = MediaType.ociIndex;
      this.converted = true;
    } else if (replacements.size > 0) {
      const manifests = children.map((child) => {
        const replacement = replacements.get(child.digest);
        return replacement
          ? { ...child, mediaType: replacement.mediaType, digest: replacement.digest, size: replacement.size }
          : child;
      });
      bytes = Buffer.from(JSON.stringify({ ...index.document, manifests }));
      this.converted = true;
    }
    const stored = await this.options.sink.putBlobBytes(bytes);
    return { mediaType, digest: stored.digest, size: stored.size };
  }

  /**
   * The config first (checked: an image config with a diff_id per layer, of the
   * platform named), then the layers, then the manifest (converted when Docker's).
   */
  private async storeImage(
    manifest: FetchedManifest,
    wanted?: PlatformSpec,
  ): Promise<{ descriptor: Descriptor; platform?: string }> {
    const config = checkDescriptors([manifest.document.config], "/config", this.name)[0]!;
    const layers = checkDescriptors(manifest.document.layers, "/layers", this.name);
    const blobs = [config, ...layers].filter((layer) => {
      if (/foreign|nondistributable/.test(layer.mediaType)) {
        this.options.events?.warning?.(
          `${this.name}: layer ${layer.digest} is a foreign layer (${layer.mediaType}); ` +
            "it is not downloaded and its urls are not followed",
        );
        return false;
      }
      return true;
    });
    this.options.events?.blobsPlanned?.(blobs);
    // Every blob downloads at once, the config first; it is checked as soon as it is stored, and a bad one stops
    // the layers (waiting for it before starting them would cost a round trip on every pull).
    let platform: string | undefined;
    const configChecked = this.blobs.fetch(config).then(async () => {
      if (!isImageConfig(config)) return;
      const bytes = await this.options.sink.readBlob(config);
      platform = checkImageConfig(bytes, config, layers.length, this.name, wanted);
    });
    const others = blobs.filter((blob) => blob !== config).map((blob) => this.blobs.fetch(blob));
    await this.blobs.all([configChecked, ...others]);
    let bytes = manifest.bytes;
    let mediaType = manifest.mediaType;
    if (isDockerMediaType(manifest.mediaType)) {
      bytes = Buffer.from(JSON.stringify(convertDockerManifest(manifest.document)));
      mediaType = MediaType.ociManifest;
      this.converted = true;
    }
    const stored = await this.options.sink.putBlobBytes(bytes);
    const descriptor: Descriptor = { mediaType, digest: stored.digest, size: stored.size };
    if (typeof manifest.document.artifactType === "string") descriptor.artifactType = manifest.document.artifactType;
    return { descriptor, platform };
  }
}
