/**
 * The rules of the image-spec that a JSON Schema cannot express. Each check
 * reads only what the schema may have let through (any value can be of the
 * wrong type here), reports with a JSON pointer and a rule name, and goes on.
 */
import { MediaType } from "../image/media-types.js";
import { isRfc3339DateTime } from "./formats.js";
import { pointerToken, type ProblemList } from "./problem.js";
import {
  CONFIG_TYPES,
  checkAnnotations,
  checkDescriptor,
  checkDigestField,
  checkMediaTypeField,
} from "./descriptor-rules.js";
import { clip, isObject } from "./json-value.js";

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
