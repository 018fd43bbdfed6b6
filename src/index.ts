/**
 * The library: `import { ImageLayout, … } from "oci-image"`. Only stable,
 * public functions and types are exported here; deeper modules are internal.
 */

// Errors: every error thrown on purpose has a stable `code` and an exit status.
export {
  AbortedError,
  DigestMismatchError,
  FileSystemError,
  fileSystemErrorOf,
  InvalidContentError,
  InvalidSettingError,
  isOciImageError,
  NotFoundError,
  OciImageError,
  RegistryError,
  UnsafeLayerError,
  UsageError,
  type ErrorCode,
  type ErrorContext,
  type FileSystemCode,
  type InvalidContentCode,
  type NotFoundCode,
  type RegistryCode,
  type UnsafeLayerCode,
} from "./errors.js";

// Image model: documents, media types, digests, platforms.
export {
  CONTAINERD_NAME_ANNOTATION,
  REF_NAME_ANNOTATION,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from "./image/types.js";
export {
  dockerToOci,
  isIndexMediaType,
  isManifestMediaType,
  layerCompressionOf,
  MediaType,
  type LayerCompression,
} from "./image/media-types.js";
export {
  ContentVerifier,
  digestOf,
  DigestingStream,
  parseDigest,
  verifyBytes,
  VerifyingStream,
  type VerifyTarget,
  type DigestAlgorithm,
  type ExpectedContent,
  type ParsedDigest,
} from "./image/digest.js";
export { MAX_DOCUMENT_SIZE, parseJsonDocument } from "./image/json.js";
export {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  type PlatformSpec,
} from "./image/platform.js";
export {
  convertDescriptor,
  convertDockerManifest,
  convertDockerManifestList,
  isDockerMediaType,
  ociMediaTypeOf,
} from "./image/docker-to-oci.js";

// The OCI image layout store.
export { ImageLayout, LAYOUT_VERSION, type AddRefResult } from "./layout/layout.js";
export { BlobStore, type PutBlobOptions, type StoredBlob } from "./layout/blob-store.js";
export { isValidRefName, listRefs, parseLayoutArgument, refNameOf, type LayoutArgument } from "./layout/refs.js";
export { resolveImage, type ResolvedImage } from "./layout/resolve-image.js";
export { walkReachable, type ReachedBlob } from "./layout/walk.js";
export { listEntries, type LayoutEntry } from "./layout/list-entries.js";
export { addRefNames, removeRefNames, type RefChange } from "./layout/tags.js";
export { collectGarbage, type GcResult, type RemovedFile } from "./layout/gc.js";
export { layoutDocuments } from "./layout/layout-documents.js";
export { inspectDocuments, type DocumentSource, type Inspected, type InspectSummary } from "./image/inspect.js";

// Layers: codecs and the verified reader.
export { createCompressor, createDecompressor } from "./layer/codecs.js";
export { readLayer, type LayerReadOptions, type LayerTar } from "./layer/layer-reader.js";

// Registry client: references, credentials, pulling into any blob sink (an ImageLayout is one).
export { formatReference, parseReference, type ImageReference } from "./registry/reference.js";
export { findCredentials, type Credentials, type CredentialSources } from "./registry/credentials.js";
export { RegistryClient, type RegistryClientOptions } from "./registry/client.js";
export { pullImage, type BlobSink, type PullEvents, type PullOptions, type PullResult } from "./registry/pull.js";
export { listTags } from "./registry/list-tags.js";
export { registryDocuments } from "./registry/registry-documents.js";
export { fetchImage, type FetchImageOptions, type FetchImageResult } from "./transfer/fetch-image.js";

// Validation: documents against the image-spec schemas and rules, and whole layouts.
export {
  checkDocument,
  detectKind,
  validateDocument,
  type DocumentKind,
  type DocumentResult,
  type ValidateDocumentOptions,
} from "./schema/validate-document.js";
export { hasErrors, type Problem, type Severity } from "./schema/problem.js";
export { validateLayout, type LayoutReport, type ValidateLayoutOptions } from "./validate/validate-layout.js";
export {
  validatePaths,
  type CheckedPath,
  type ValidatePathsOptions,
  type ValidationResult,
  type ValidateType,
} from "./validate/validate-paths.js";

// Building an image of one layer from a directory.
export { createImage, type CreateImageOptions, type CreateImageResult } from "./create/create-image.js";
export type { ImageSettings } from "./image/build-config.js";
export type { BaseImageOptions } from "./create/base-image.js";
export {
  BASE_DIGEST_ANNOTATION,
  BASE_NAME_ANNOTATION,
  buildConfigOnBase,
  mergeContainerConfig,
} from "./image/base-config.js";

// Runtime bundles: applying layers and converting the image config.
export { applyLayer, type ApplyLayerOptions } from "./layer/apply-layer.js";
export {
  annotationsOf,
  toRuntimeConfig,
  type RuntimeConfig,
  type RuntimeConfigOptions,
} from "./bundle/runtime-config.js";
export { unpackImage, type UnpackOptions, type UnpackResult } from "./bundle/unpack-image.js";
