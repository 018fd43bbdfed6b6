/**
 * An image of one new layer on a base image: the base's config is the starting
 * point and the settings override or extend it as Docker's instructions do on a
 * `FROM` image (an env variable or a label one key at a time, an Entrypoint that
 * clears the inherited Cmd unless a Cmd is given too). Pure: no I/O.
 */
import type { BuildSettings } from "./build-config.js";
import { MediaType } from "./media-types.js";
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, ImageManifest, Platform } from "./types.js";

export const BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name";
export const BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest";

/** The config fields of the image-spec that an image inherits from its base; others (Docker's extras) are dropped. */
const INHERITED: readonly (keyof ContainerConfig)[] = [
  "User",
  "ExposedPorts",
  "Env",
  "Entrypoint",
  "Cmd",
  "Volumes",
  "WorkingDir",
  "Labels",
  "StopSignal",
  "ArgsEscaped",
];

/** The base's container config with the given one applied on top (`given` holds only the settings given). */
export function mergeContainerConfig(base: ContainerConfig | undefined, given: ContainerConfig): ContainerConfig {
  const merged: ContainerConfig = {};
  for (const key of INHERITED)
    if (base?.[key] !== undefined && base[key] !== null) Object.assign(merged, { [key]: base[key] });
  if (given.User !== undefined) merged.User = given.User;
  if (given.WorkingDir !== undefined) merged.WorkingDir = given.WorkingDir;
  if (given.StopSignal !== undefined) merged.StopSignal = given.StopSignal;
  if (given.Env) merged.Env = overrideEnv(merged.Env ?? [], given.Env);
  if (given.Labels) merged.Labels = { ...merged.Labels, ...given.Labels };
  if (given.ExposedPorts) merged.ExposedPorts = { ...merged.ExposedPorts, ...given.ExposedPorts };
  if (given.Volumes) merged.Volumes = { ...merged.Volumes, ...given.Volumes };
  if (given.Entrypoint) {
    // As Docker: a new Entrypoint makes the inherited Cmd meaningless, so it goes unless a Cmd is given.
    merged.Entrypoint = given.Entrypoint;
    delete merged.Cmd;
    delete merged.ArgsEscaped;
  }
  if (given.Cmd) merged.Cmd = given.Cmd;
  return merged;
}

/** `KEY=VALUE` entries of the base with the given ones replacing theirs in place and new ones appended. */
export function overrideEnv(base: readonly string[], given: readonly string[]): string[] {
  const keyOf = (entry: string) => (entry.includes("=") ? entry.slice(0, entry.indexOf("=")) : entry);
  const values = new Map<string, string>();
  for (const entry of base) values.set(keyOf(entry), entry);
  for (const entry of given) values.set(keyOf(entry), entry);
  return [...values.values()];
}

/** The new image's config: the base's platform, layers and history, with the new layer and settings on top. */
export function buildConfigOnBase(base: ImageConfig, settings: BuildSettings, diffId: string): ImageConfig {
  const author = settings.author ?? base.author;
  const history: HistoryEntry = { created: settings.created, created_by: settings.createdBy };
  if (settings.author !== undefined) history.author = settings.author;
  const config = mergeContainerConfig(base.config, settings.config);
  return {
    created: settings.created,
    ...(author !== undefined ? { author } : {}),
    architecture: base.architecture,
    os: base.os,
    ...(base["os.version"] !== undefined ? { "os.version": base["os.version"] } : {}),
    ...(base["os.features"] !== undefined ? { "os.features": base["os.features"] } : {}),
    ...(base.variant !== undefined ? { variant: base.variant } : {}),
    ...(Object.keys(config).length ? { config } : {}),
    rootfs: { type: "layers", diff_ids: [...(base.rootfs?.diff_ids ?? []), diffId] },
    history: [...(base.history ?? []), history],
  };
}

/** What the new manifest says about its base. */
export interface BaseReference {
  /** The base's name (annotations.md: a reference), when it has one. */
  name?: string;
  /** The digest of the base's image manifest. */
  digest: string;
  /** The base's layers, their media types already in OCI terms. */
  layers: readonly Descriptor[];
}

/** The manifest: the base's layers unchanged, then the new one; the base named in annotations. */
export function buildManifestOnBase(
  settings: BuildSettings,
  config: Descriptor,
  layer: Descriptor,
  base: BaseReference,
): ImageManifest {
  const annotations: Record<string, string> = {
    ...(base.name !== undefined ? { [BASE_NAME_ANNOTATION]: base.name } : {}),
    [BASE_DIGEST_ANNOTATION]: base.digest,
    ...settings.annotations,
  };
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: [...base.layers, { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    annotations,
  };
}

/** The index entry's platform, from the config. */
export function platformOfConfig(config: ImageConfig): Platform {
  const platform: Platform = { architecture: config.architecture, os: config.os };
  if (config["os.version"] !== undefined) platform["os.version"] = config["os.version"];
  if (config["os.features"] !== undefined) platform["os.features"] = config["os.features"];
  if (config.variant !== undefined) platform.variant = config.variant;
  return platform;
}
