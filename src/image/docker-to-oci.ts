/**
 * Docker schema 2 → OCI: a manifest list becomes an image index, a manifest an
 * OCI manifest, with each descriptor's media type mapped. Pure: the blobs keep
 * their bytes (so their digests); only the documents change, and so do theirs.
 */
import { InvalidContentError } from "../errors.js";
import { MediaType, dockerToOci } from "./media-types.js";
import type { Descriptor, ImageIndex, ImageManifest } from "./types.js";

/** The OCI media type for a Docker one; other types pass unchanged. */
export function ociMediaTypeOf(mediaType: string): string {
  return dockerToOci[mediaType] ?? mediaType;
}

export function isDockerMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.dockerManifest || mediaType === MediaType.dockerManifestList;
}

/** Copies a descriptor's known fields with its media type mapped (unknown fields are dropped). */
export function convertDescriptor(descriptor: Descriptor): Descriptor {
  const out: Descriptor = {
    mediaType: ociMediaTypeOf(descriptor.mediaType),
    digest: descriptor.digest,
    size: descriptor.size,
  };
  if (descriptor.urls) out.urls = descriptor.urls;
  if (descriptor.annotations) out.annotations = descriptor.annotations;
  if (descriptor.platform) out.platform = descriptor.platform;
  if (descriptor.artifactType) out.artifactType = descriptor.artifactType;
  return out;
}

/** A Docker schema 2 manifest as an OCI image manifest. */
export function convertDockerManifest(docker: Record<string, unknown>): ImageManifest {
  if (docker.mediaType !== undefined && docker.mediaType !== MediaType.dockerManifest) {
    throw new InvalidContentError(
      "MANIFEST_INVALID",
      `expected a Docker schema 2 manifest, got mediaType ${JSON.stringify(docker.mediaType)}`,
    );
  }
  const config = docker.config as Descriptor;
  const layers = docker.layers as Descriptor[];
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: convertDescriptor(config),
    layers: layers.map(convertDescriptor),
  };
  if (docker.annotations && typeof docker.annotations === "object")
    manifest.annotations = docker.annotations as Record<string, string>;
  return manifest;
}

/**
 * A Docker manifest list as an OCI index. `replacements` maps a child's
 * original digest to its converted descriptor (a converted child has a new
 * digest and size); children not in it keep theirs, their media type mapped.
 */
export function convertDockerManifestList(
  docker: Record<string, unknown>,
  replacements: ReadonlyMap<string, Descriptor> = new Map(),
): ImageIndex {
  if (docker.mediaType !== undefined && docker.mediaType !== MediaType.dockerManifestList) {
    throw new InvalidContentError(
      "MANIFEST_INVALID",
      `expected a Docker manifest list, got mediaType ${JSON.stringify(docker.mediaType)}`,
    );
  }
  const manifests = (docker.manifests as Descriptor[]).map((child) => {
    const converted = convertDescriptor(child);
    const replacement = replacements.get(child.digest);
    return replacement
      ? { ...converted, mediaType: replacement.mediaType, digest: replacement.digest, size: replacement.size }
      : converted;
  });
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  if (docker.annotations && typeof docker.annotations === "object")
    index.annotations = docker.annotations as Record<string, string>;
  return index;
}
