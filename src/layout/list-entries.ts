/** What `ls` shows of a layout: one summary per `index.json` entry. */
import { isOciImageError } from "../errors.js";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../image/media-types.js";
import { formatPlatform } from "../image/platform.js";
import {
  CONTAINERD_NAME_ANNOTATION,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from "../image/types.js";
import type { ImageLayout } from "./layout.js";
import { findReachable } from "./reachable.js";
import { refNameOf } from "./refs.js";

export interface LayoutEntry {
  /** The ref name, or null for an entry without one. */
  ref: string | null;
  digest: string;
  mediaType: string;
  /** "image", "index", or the artifact type. */
  kind: string;
  platforms: string[];
  /** Bytes of every blob the entry reaches (not its subject), each counted once. */
  size: number;
  created: string | null;
  /** Where the image came from (`io.containerd.image.name`), or null. */
  source: string | null;
  /** Why the entry could not be read (a missing or damaged blob); the other fields are index.json's. */
  problem?: string;
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);

export async function listEntries(layout: ImageLayout): Promise<LayoutEntry[]> {
  const index = await layout.readIndex();
  const entries: LayoutEntry[] = [];
  for (const descriptor of index.manifests) {
    entries.push(await describeEntry(layout, descriptor).catch((error: unknown) => damagedEntry(descriptor, error)));
  }
  return entries;
}

/** An entry whose documents cannot be read still gets its row: what index.json says, and why the rest is missing. */
function damagedEntry(descriptor: Descriptor, error: unknown): LayoutEntry {
  if (!isOciImageError(error)) throw error;
  return {
    ref: refNameOf(descriptor) ?? null,
    digest: descriptor.digest,
    mediaType: descriptor.mediaType,
    kind: "?",
    platforms: descriptor.platform ? [formatPlatform(descriptor.platform)] : [],
    size: descriptor.size,
    created: null,
    source: descriptor.annotations?.[CONTAINERD_NAME_ANNOTATION] ?? null,
    problem: error.message,
  };
}

async function describeEntry(layout: ImageLayout, descriptor: Descriptor): Promise<LayoutEntry> {
  const { blobs } = await findReachable(layout, [descriptor], { subjects: false });
  const summary = await summarize(layout, descriptor);
  return {
    ref: refNameOf(descriptor) ?? null,
    digest: descriptor.digest,
    mediaType: descriptor.mediaType,
    ...summary,
    size: [...blobs.values()].reduce((sum, size) => sum + size, 0),
    source: descriptor.annotations?.[CONTAINERD_NAME_ANNOTATION] ?? null,
  };
}

type Summary = Pick<LayoutEntry, "kind" | "platforms" | "created">;

async function summarize(layout: ImageLayout, descriptor: Descriptor, depth = 0): Promise<Summary> {
  if (isIndexMediaType(descriptor.mediaType)) {
    const index = await layout.readJsonBlob<ImageIndex>(descriptor);
    const platforms: string[] = [];
    for (const child of index.manifests ?? []) {
      if (child.platform) platforms.push(formatPlatform(child.platform));
      else if (isIndexMediaType(child.mediaType) && depth < 4)
        platforms.push(...(await summarize(layout, child, depth + 1)).platforms);
    }
    return { kind: index.artifactType ?? "index", platforms: [...new Set(platforms)], created: null };
  }
  if (!isManifestMediaType(descriptor.mediaType))
    return { kind: descriptor.artifactType ?? descriptor.mediaType, platforms: [], created: null };
  const manifest = await layout.readJsonBlob<ImageManifest>(descriptor);
  const configType = manifest.config?.mediaType;
  const isImage = !manifest.artifactType && IMAGE_CONFIG_TYPES.has(configType);
  if (!isImage) {
    const platforms = descriptor.platform ? [formatPlatform(descriptor.platform)] : [];
    return { kind: manifest.artifactType ?? configType ?? "artifact", platforms, created: null };
  }
  const config = await layout.readJsonBlob<ImageConfig>(manifest.config);
  const platform = typeof config.os === "string" && typeof config.architecture === "string" ? config : undefined;
  return {
    kind: "image",
    platforms: platform ? [formatPlatform(platform)] : [],
    created: typeof config.created === "string" ? config.created : null,
  };
}
