/**
 * What `inspect` reports of an image or index, from its documents alone: the
 * same whether they come from a layout or a registry (a DocumentSource). Only
 * documents and the config are read, never a layer.
 */
import { InvalidContentError, NotFoundError } from "../errors.js";
import { checkIndexDepth } from "./index-depth.js";
import { parseJsonDocument } from "./json.js";
import { formatPlatform, platformMatches, type PlatformSpec } from "./platform.js";
import type { ContainerConfig, Descriptor, ImageConfig, ImageIndex, ImageManifest } from "./types.js";

export interface DocumentSource {
  /** The document the argument names, bytes as stored or served. */
  top(): Promise<{ bytes: Buffer; digest: string; mediaType: string }>;
  /** A document or blob a descriptor points at, verified. */
  read(descriptor: Descriptor): Promise<Buffer>;
}

export interface LayerSummary {
  digest: string;
  size: number;
  mediaType: string;
}

export interface InspectSummary {
  reference: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  /** The digest of the image this one refers to (a signature, an SBOM). */
  subject?: string;
  /** An index: its images. */
  manifests?: { digest: string; mediaType: string; size: number; platform: string | null }[];
  created?: string;
  platform?: string;
  layers?: LayerSummary[];
  /** Manifest, config and layers. */
  size?: number;
  config?: Pick<ContainerConfig, "Env" | "Entrypoint" | "Cmd" | "User" | "WorkingDir" | "ExposedPorts" | "Labels">;
  annotations?: Record<string, string>;
}

export interface Inspected {
  summary: InspectSummary;
  /** The manifest or index bytes (of the image picked with a platform). */
  raw: Buffer;
  /** The config blob's bytes (not for an index). */
  config?: Buffer;
}

const isIndex = (document: Record<string, unknown>) => Array.isArray(document.manifests);

export async function inspectDocuments(
  source: DocumentSource,
  options: { reference: string; platform?: PlatformSpec },
): Promise<Inspected> {
  let { bytes, digest, mediaType } = await source.top();
  let document = parseJsonDocument(bytes, digest) as Record<string, unknown>;
  for (let depth = 0; isIndex(document) && options.platform; depth++) {
    checkIndexDepth(depth, digest);
    const child = pickPlatform(document as unknown as ImageIndex, options.platform, digest);
    bytes = await source.read(child);
    ({ digest, mediaType } = child);
    document = parseJsonDocument(bytes, digest) as Record<string, unknown>;
  }
  const base = { reference: options.reference, digest, mediaType };
  if (isIndex(document)) return { summary: indexSummary(base, document as unknown as ImageIndex), raw: bytes };
  const manifest = document as unknown as ImageManifest;
  if (typeof manifest.config?.digest !== "string" || !Array.isArray(manifest.layers))
    throw new InvalidContentError("MANIFEST_INVALID", `${digest} is neither an image manifest nor an index`, {
      where: digest,
    });
  const config = await source.read(manifest.config);
  return { summary: manifestSummary(base, manifest, bytes.length, config), raw: bytes, config };
}

function pickPlatform(index: ImageIndex, platform: PlatformSpec, digest: string): Descriptor {
  const match = index.manifests.find((entry) => platformMatches(platform, entry.platform));
  if (match) return match;
  const available = index.manifests.map((entry) => (entry.platform ? formatPlatform(entry.platform) : "(none)"));
  throw new NotFoundError(
    "PLATFORM_UNKNOWN",
    `no image for platform ${formatPlatform(platform)} in ${digest}; available: ${available.join(", ") || "none"}`,
    { where: digest },
  );
}

type Base = Pick<InspectSummary, "reference" | "digest" | "mediaType">;

function indexSummary(base: Base, index: ImageIndex): InspectSummary {
  return {
    ...base,
    ...(index.artifactType ? { artifactType: index.artifactType } : {}),
    manifests: index.manifests.map((entry) => ({
      digest: entry.digest,
      mediaType: entry.mediaType,
      size: entry.size,
      platform: entry.platform ? formatPlatform(entry.platform) : null,
    })),
    ...(index.annotations ? { annotations: index.annotations } : {}),
  };
}

function manifestSummary(base: Base, manifest: ImageManifest, size: number, configBytes: Buffer): InspectSummary {
  const layers = manifest.layers.map(({ digest, size, mediaType }) => ({ digest, size, mediaType }));
  const total = size + manifest.config.size + layers.reduce((sum, layer) => sum + layer.size, 0);
  const summary: InspectSummary = { ...base, layers, size: total };
  if (manifest.artifactType) summary.artifactType = manifest.artifactType;
  if (typeof manifest.subject?.digest === "string") summary.subject = manifest.subject.digest;
  if (/image\.config|container\.image/.test(manifest.config.mediaType)) {
    const config = parseJsonDocument(configBytes, manifest.config.digest) as ImageConfig;
    if (typeof config.created === "string") summary.created = config.created;
    if (typeof config.os === "string" && typeof config.architecture === "string")
      summary.platform = formatPlatform(config);
    const { Env, Entrypoint, Cmd, User, WorkingDir, ExposedPorts, Labels } = config.config ?? {};
    summary.config = { Env, Entrypoint, Cmd, User, WorkingDir, ExposedPorts, Labels };
  }
  if (manifest.annotations) summary.annotations = manifest.annotations;
  return summary;
}
