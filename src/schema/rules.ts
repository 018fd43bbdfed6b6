/**
 * The rules of the image-spec that a JSON Schema cannot express. Each check
 * reads only what the schema may have let through (any value can be of the
 * wrong type here), reports with a JSON pointer and a rule name, and goes on.
 */
import { digestOf, digestProblem, isRegisteredAlgorithm, type DigestAlgorithm } from "../image/digest.js";
import { MediaType, layerCompressionOf } from "../image/media-types.js";
import { isValidRefName } from "../image/ref-name.js";
import { REF_NAME_ANNOTATION } from "../image/types.js";
import { decodeBase64, isMediaType, isRfc3339DateTime, isRfc3986Uri } from "./formats.js";
import { pointerToken, type ProblemList } from "./problem.js";

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const CREATED_ANNOTATION = "org.opencontainers.image.created";

/** Where a descriptor stands, which decides which media types are expected of it. */
export type DescriptorRole = "any" | "config" | "layer" | "manifest-entry" | "subject";

/** descriptor.md rules beyond the schema: digest, size, data, urls, annotations, media types. */
export function checkDescriptor(
  value: unknown,
  list: ProblemList,
  at: string,
  role: DescriptorRole = "any",
  artifact = false,
): void {
  if (!isObject(value)) return;
  checkDigestField(value.digest, list, `${at}/digest`);
  checkSize(value.size, list, `${at}/size`);
  checkMediaTypeField(value.mediaType, list, `${at}/mediaType`);
  checkMediaTypeField(value.artifactType, list, `${at}/artifactType`);
  if (value.urls !== undefined && Array.isArray(value.urls)) {
    value.urls.forEach((url, i) => {
      if (typeof url === "string" && !isRfc3986Uri(url))
        list.error(`${at}/urls/${i}`, "url-invalid", `"${clip(url)}" is not an absolute RFC 3986 URI`);
    });
  }
  if (value.data !== undefined) checkData(value, list, at);
  checkAnnotations(value.annotations, list, `${at}/annotations`);
  if (typeof value.mediaType === "string" && isMediaType(value.mediaType))
    checkRoleMediaType(value.mediaType, list, at, role, artifact);
}

function checkDigestField(digest: unknown, list: ProblemList, at: string): void {
  if (digest === undefined) return;
  const problem = digestProblem(digest);
  if (problem) list.error(at, "digest-invalid", problem);
  else if (!isRegisteredAlgorithm(digest as string))
    list.warn(
      at,
      "digest-unverifiable",
      `${clip(digest as string)} uses an algorithm this tool cannot verify (sha256, sha512)`,
    );
}

/** int64 >= 0, and exact in JavaScript (at most 2^53-1). */
export function sizeProblem(size: unknown): string | undefined {
  if (typeof size !== "number") return `a size must be a number, not ${describe(size)}`;
  if (!Number.isFinite(size) || !Number.isInteger(size)) return `a size must be a whole number, not ${size}`;
  if (size < 0) return `a size must not be negative (${size})`;
  if (size > Number.MAX_SAFE_INTEGER) return `a size above 2^53-1 (${size}) cannot be handled exactly`;
  return undefined;
}

function checkSize(size: unknown, list: ProblemList, at: string): void {
  if (size === undefined) return;
  const problem = sizeProblem(size);
  if (problem) list.error(at, "size-invalid", problem);
}

function checkMediaTypeField(mediaType: unknown, list: ProblemList, at: string): void {
  if (typeof mediaType === "string" && !isMediaType(mediaType)) {
    list.error(at, "media-type-invalid", `"${clip(mediaType)}" is not an RFC 6838 media type (type/subtype)`);
  }
}

/** descriptor.md: `data` is padded base64 whose bytes match `size` and `digest`. */
function checkData(descriptor: Json, list: ProblemList, at: string): void {
  const { data, size, digest } = descriptor;
  if (typeof data !== "string") return;
  const bytes = decodeBase64(data);
  if (!bytes) {
    list.error(`${at}/data`, "data-invalid", "data must be base64 with padding (RFC 4648 section 4)");
    return;
  }
  if (typeof size === "number" && bytes.length !== size) {
    list.error(`${at}/data`, "data-mismatch", `data decodes to ${bytes.length} bytes, but size is ${size}`);
  }
  if (typeof digest === "string" && !digestProblem(digest) && isRegisteredAlgorithm(digest)) {
    const actual = digestOf(bytes, digest.slice(0, digest.indexOf(":")) as DigestAlgorithm);
    if (actual !== digest)
      list.error(`${at}/data`, "data-mismatch", `data has digest ${actual}, but the descriptor says ${digest}`);
  }
}

/** annotations.md: the ref name grammar, and RFC 3339 for `created`. */
function checkAnnotations(annotations: unknown, list: ProblemList, at: string): void {
  if (!isObject(annotations)) return;
  const refName = annotations[REF_NAME_ANNOTATION];
  if (typeof refName === "string" && !isValidRefName(refName)) {
    list.error(
      `${at}/${pointerToken(REF_NAME_ANNOTATION)}`,
      "ref-name-invalid",
      `ref name "${clip(refName)}" does not follow the grammar of annotations.md (alphanumerics joined by - . _ : @ + or --, components separated by /)`,
    );
  }
  const created = annotations[CREATED_ANNOTATION];
  if (typeof created === "string" && !isRfc3339DateTime(created)) {
    list.error(
      `${at}/${pointerToken(CREATED_ANNOTATION)}`,
      "created-invalid",
      `"${clip(created)}" is not an RFC 3339 date-time`,
    );
  }
}

const CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
const MANIFEST_TYPES = new Set<string>([
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
]);

/** Unknown media types are allowed (implementations must not fail on them), so they are warnings. */
function checkRoleMediaType(
  mediaType: string,
  list: ProblemList,
  at: string,
  role: DescriptorRole,
  artifact: boolean,
): void {
  if (role === "layer" && !artifact && !layerCompressionOf(mediaType) && mediaType !== MediaType.ociEmpty) {
    list.warn(`${at}/mediaType`, "media-type-unknown", `layer media type ${mediaType} is not one this tool can read`);
  } else if (role === "config" && !artifact && !CONFIG_TYPES.has(mediaType) && mediaType !== MediaType.ociEmpty) {
    list.warn(
      `${at}/mediaType`,
      "media-type-unknown",
      `config media type ${mediaType} is not an image config; the manifest is not a container image`,
    );
  } else if (role === "manifest-entry" && !MANIFEST_TYPES.has(mediaType)) {
    list.warn(`${at}/mediaType`, "media-type-unknown", `${mediaType} is not an image manifest or index media type`);
  }
}

/** manifest.md rules. */
export function checkManifest(value: unknown, list: ProblemList): void {
  if (!isObject(value)) return;
  if (value.manifests !== undefined) {
    list.error(
      "/manifests",
      "manifest-index-ambiguous",
      'a manifest must not have "manifests": is this an index? (CVE-2021-41190)',
    );
  }
  checkDocumentMediaType(value.mediaType, MediaType.ociManifest, list);
  checkMediaTypeField(value.artifactType, list, "/artifactType");
  const config = isObject(value.config) ? value.config : undefined;
  const emptyConfig = config?.mediaType === MediaType.ociEmpty;
  if (emptyConfig && value.artifactType === undefined) {
    list.error(
      "/artifactType",
      "artifact-type-required",
      "artifactType must be set when config is the empty descriptor (manifest.md)",
    );
  }
  const artifact = value.artifactType !== undefined || emptyConfig;
  checkDescriptor(value.config, list, "/config", "config", artifact);
  if (Array.isArray(value.layers) && value.layers.length === 0) {
    list.error(
      "/layers",
      "layers-empty",
      "a manifest must have at least one layer (the image-spec's published schema requires one; an artifact uses the empty descriptor)",
    );
  }
  if (Array.isArray(value.layers))
    value.layers.forEach((layer, i) =>
      checkDescriptor(
        layer,
        list,
        `/layers/${i}`,
        "layer",
        artifact ||
          (config !== undefined && typeof config.mediaType === "string" && !CONFIG_TYPES.has(config.mediaType)),
      ),
    );
  checkDescriptor(value.subject, list, "/subject", "subject");
  checkAnnotations(value.annotations, list, "/annotations");
}

/** image-index.md rules. */
export function checkIndex(value: unknown, list: ProblemList): void {
  if (!isObject(value)) return;
  for (const field of ["config", "layers"]) {
    if (value[field] !== undefined)
      list.error(
        `/${field}`,
        "manifest-index-ambiguous",
        `an index must not have "${field}": is this a manifest? (CVE-2021-41190)`,
      );
  }
  checkDocumentMediaType(value.mediaType, MediaType.ociIndex, list);
  checkMediaTypeField(value.artifactType, list, "/artifactType");
  if (Array.isArray(value.manifests))
    value.manifests.forEach((entry, i) => checkDescriptor(entry, list, `/manifests/${i}`, "manifest-entry"));
  checkDescriptor(value.subject, list, "/subject", "subject");
  checkAnnotations(value.annotations, list, "/annotations");
}

/** A document's own `mediaType`: SHOULD be present, MUST be the right one when it is. */
function checkDocumentMediaType(mediaType: unknown, expected: string, list: ProblemList): void {
  if (mediaType === undefined)
    list.warn("/mediaType", "media-type-missing", `mediaType should be present (${expected})`);
  else if (typeof mediaType === "string" && mediaType !== expected) {
    list.error(
      "/mediaType",
      "media-type-mismatch",
      `mediaType is ${clip(mediaType)}, but this document must be ${expected}`,
    );
  }
}

const ENV = /^[^=]+=/s;
const PORT = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/;

/** config.md rules. */
export function checkConfig(value: unknown, list: ProblemList): void {
  if (!isObject(value)) return;
  checkDate(value.created, list, "/created");
  const config = isObject(value.config) ? value.config : {};
  if (Array.isArray(config.Env)) {
    config.Env.forEach((entry, i) => {
      if (typeof entry === "string" && !ENV.test(entry))
        list.error(`/config/Env/${i}`, "env-invalid", `"${clip(entry)}" is not NAME=value`);
    });
  }
  if (isObject(config.ExposedPorts)) {
    for (const key of Object.keys(config.ExposedPorts)) {
      const match = PORT.exec(key);
      const at = `/config/ExposedPorts/${pointerToken(key)}`;
      if (!match || Number(match[1]) < 1 || Number(match[1]) > 65535)
        list.error(at, "exposed-port-invalid", `"${clip(key)}" is not port, port/tcp or port/udp (port 1-65535)`);
      else if (match[2] === "sctp")
        list.warn(at, "exposed-port-protocol", `"${key}": the image-spec names only tcp and udp`);
    }
  }
  const rootfs = isObject(value.rootfs) ? value.rootfs : undefined;
  if (rootfs && typeof rootfs.type === "string" && rootfs.type !== "layers") {
    list.error("/rootfs/type", "rootfs-type", `rootfs.type is "${clip(rootfs.type)}"; it must be "layers"`);
  }
  if (rootfs && Array.isArray(rootfs.diff_ids))
    rootfs.diff_ids.forEach((id, i) => checkDigestField(id, list, `/rootfs/diff_ids/${i}`));
  if (Array.isArray(value.history)) {
    value.history.forEach((entry, i) => {
      if (isObject(entry)) checkDate(entry.created, list, `/history/${i}/created`);
    });
    if (rootfs && Array.isArray(rootfs.diff_ids)) {
      const withLayers = countLayerHistory(value.history);
      if (withLayers !== rootfs.diff_ids.length) {
        list.warn(
          "/history",
          "history-layer-count",
          `history has ${withLayers} entries that make a layer (not empty_layer), but rootfs has ${rootfs.diff_ids.length} diff_ids`,
        );
      }
    }
  }
}

function countLayerHistory(history: unknown[]): number {
  return history.filter((entry) => !(isObject(entry) && entry.empty_layer === true)).length;
}

function checkDate(value: unknown, list: ProblemList, at: string): void {
  if (typeof value === "string" && !isRfc3339DateTime(value))
    list.error(at, "created-invalid", `"${clip(value)}" is not an RFC 3339 date-time`);
}

/** image-layout.md: the only layout version is 1.0.0. */
export function checkOciLayout(value: unknown, list: ProblemList): void {
  if (!isObject(value)) return;
  const version = value.imageLayoutVersion;
  if (version !== undefined && version !== "1.0.0") {
    list.error(
      "/imageLayoutVersion",
      "layout-version",
      `imageLayoutVersion is ${clip(JSON.stringify(version))}; it must be "1.0.0"`,
    );
  }
}

/**
 * Rules between a manifest and its config: one diff_id per layer (an error:
 * the layers could not be verified or applied otherwise).
 */
export function checkImage(manifest: unknown, config: unknown, list: ProblemList): void {
  if (!isObject(manifest) || !isObject(config) || !Array.isArray(manifest.layers)) return;
  const rootfs = isObject(config.rootfs) ? config.rootfs : undefined;
  if (!rootfs || !Array.isArray(rootfs.diff_ids)) return;
  if (rootfs.diff_ids.length !== manifest.layers.length) {
    list.error(
      "/rootfs/diff_ids",
      "diff-ids-count",
      `the config has ${rootfs.diff_ids.length} diff_ids, but the manifest has ${manifest.layers.length} layers`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `the string "${clip(value)}"` : `a ${typeof value}`;
}

export function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}
