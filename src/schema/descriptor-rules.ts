/**
 * descriptor.md's rules beyond the schema, wherever a descriptor stands: digest
 * grammar, size, `data`, `urls`, annotations, and the media types its place expects.
 */
import { digestOf, digestProblem, isRegisteredAlgorithm, type DigestAlgorithm } from "../image/digest.js";
import { MediaType, layerCompressionOf } from "../image/media-types.js";
import { isValidRefName } from "../image/ref-name.js";
import { REF_NAME_ANNOTATION } from "../image/types.js";
import { decodeBase64, isMediaType, isRfc3339DateTime, isRfc3986Uri } from "./formats.js";
import { pointerToken, type ProblemList } from "./problem.js";
import { clip, describe, isObject, type Json } from "./json-value.js";

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

export function checkDigestField(digest: unknown, list: ProblemList, at: string): void {
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

export function checkMediaTypeField(mediaType: unknown, list: ProblemList, at: string): void {
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
export function checkAnnotations(annotations: unknown, list: ProblemList, at: string): void {
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

export const CONFIG_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
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
