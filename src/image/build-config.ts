/**
 * An image of one layer described by typed settings: the platform, the time,
 * the container config, the history entry, the manifest's annotations, and the
 * config and manifest documents themselves. Pure: no I/O, the clock and the
 * host are parameters. A value out of range is an InvalidSettingError naming
 * the setting; turning text (a command line) into these values is the caller's job.
 */
import { InvalidSettingError } from "../errors.js";
import { MediaType } from "./media-types.js";
import { hostPlatform, normalizePlatform, type PlatformSpec } from "./platform.js";
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, ImageManifest, Platform } from "./types.js";

export const CREATED_ANNOTATION = "org.opencontainers.image.created";
export const DEFAULT_CREATED_BY = "oci-image create";

/** What the image says about itself and how its entries are owned. */
export interface ImageSettings {
  /** Default: this machine's. */
  platform?: Platform;
  /** A fixed creation time makes the build reproducible: later mtimes are clamped to it. Default: now. */
  created?: Date;
  entrypoint?: string[];
  cmd?: string[];
  /** `KEY=VALUE` entries (a later KEY replaces the earlier, in its place), or a record. */
  env?: string[] | Record<string, string>;
  /** Absolute, inside the container. */
  workdir?: string;
  user?: string;
  labels?: Record<string, string>;
  /** `80`, `80/tcp`, `53/udp`, `9/sctp`. */
  exposedPorts?: string[];
  /** Absolute mount points. */
  volumes?: string[];
  /** `SIGTERM`, `TERM`, `SIGRTMIN+3`, or a number from 1 to 64. */
  stopSignal?: string;
  author?: string;
  /** The history entry's `created_by`; default `oci-image create`. */
  history?: string;
  annotations?: Record<string, string>;
  /** Store every entry with this owner instead of the file's. */
  owner?: { uid: number; gid: number };
}

export interface BuildSettings {
  platform: PlatformSpec;
  /** RFC 3339, UTC. */
  created: string;
  /** `created` in whole seconds since the epoch. */
  createdSeconds: number;
  /** True when the time was given: mtimes are clamped to it. */
  reproducible: boolean;
  config: ContainerConfig;
  author?: string;
  createdBy: string;
  annotations: Record<string, string>;
  owner?: { uid: number; gid: number };
}

/** Checks every setting and resolves the defaults; throws an InvalidSettingError naming the first bad one. */
export function resolveBuildSettings(
  settings: ImageSettings,
  now: Date = new Date(),
  host: PlatformSpec = hostPlatform(),
): BuildSettings {
  const platform = settings.platform === undefined ? host : normalizePlatform(settings.platform);
  const time = resolveCreated(settings.created, now);
  const annotations = { [CREATED_ANNOTATION]: time.created, ...settings.annotations };
  return {
    platform,
    ...time,
    config: containerConfig(settings),
    ...(settings.author !== undefined ? { author: settings.author } : {}),
    createdBy: settings.history ?? DEFAULT_CREATED_BY,
    annotations,
    ...(settings.owner !== undefined ? { owner: checkOwner(settings.owner) } : {}),
  };
}

/** The config's `config` object: only the fields that were given. */
function containerConfig(settings: ImageSettings): ContainerConfig {
  const config: ContainerConfig = {};
  if (settings.user !== undefined) config.User = nonEmpty("user", settings.user);
  if (settings.exposedPorts?.length)
    config.ExposedPorts = Object.fromEntries(settings.exposedPorts.map((port) => [normalizePort(port), {}]));
  const env = settings.env === undefined ? [] : mergeEnv(settings.env);
  if (env.length) config.Env = env;
  if (settings.entrypoint !== undefined) config.Entrypoint = [...settings.entrypoint];
  if (settings.cmd !== undefined) config.Cmd = [...settings.cmd];
  if (settings.volumes?.length)
    config.Volumes = Object.fromEntries(settings.volumes.map((path) => [absolutePath("volumes", path), {}]));
  if (settings.workdir !== undefined) config.WorkingDir = absolutePath("workdir", settings.workdir);
  if (settings.labels && Object.keys(settings.labels).length) config.Labels = { ...settings.labels };
  if (settings.stopSignal !== undefined) config.StopSignal = normalizeSignal(settings.stopSignal);
  return config;
}

/** The image config for one layer whose uncompressed tar has digest `diffId`. */
export function buildImageConfig(settings: BuildSettings, diffId: string): ImageConfig {
  const history: HistoryEntry = { created: settings.created, created_by: settings.createdBy };
  if (settings.author !== undefined) history.author = settings.author;
  const config: ImageConfig = {
    created: settings.created,
    ...(settings.author !== undefined ? { author: settings.author } : {}),
    architecture: settings.platform.architecture,
    os: settings.platform.os,
    ...(settings.platform.variant ? { variant: settings.platform.variant } : {}),
    ...(Object.keys(settings.config).length ? { config: settings.config } : {}),
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [history],
  };
  return config;
}

export function buildManifest(settings: BuildSettings, config: Descriptor, layer: Descriptor): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    annotations: settings.annotations,
  };
}

export function platformOf(settings: BuildSettings): Platform {
  const { os, architecture, variant } = settings.platform;
  return variant ? { architecture, os, variant } : { architecture, os };
}

/** A given time is reproducible; else now, not reproducible. UTC, without fractions when there are none. */
export function resolveCreated(
  created: Date | undefined,
  now: Date,
): { created: string; createdSeconds: number; reproducible: boolean } {
  const ms = (created ?? now).getTime();
  if (!(ms >= 0 && ms <= 253402300799999))
    throw new InvalidSettingError("created", "must fall between years 1970 and 9999");
  return {
    created: new Date(ms).toISOString().replace(/\.000Z$/, "Z"),
    createdSeconds: Math.floor(ms / 1000),
    reproducible: created !== undefined,
  };
}

/** `KEY=VALUE` entries; a later one of the same KEY replaces the earlier, in its place. */
export function mergeEnv(entries: string[] | Record<string, string>): string[] {
  const values = new Map<string, string>();
  const list = Array.isArray(entries) ? entries : Object.entries(entries).map(([key, value]) => `${key}=${value}`);
  for (const entry of list) {
    const equals = entry.indexOf("=");
    if (equals <= 0)
      throw new InvalidSettingError(
        "env",
        `must be KEY=VALUE, not "${entry}"${equals < 0 ? ` (write ${entry}= for an empty value)` : ""}`,
      );
    values.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return [...values].map(([key, value]) => `${key}=${value}`);
}

/** `80`, `80/tcp`, `53/udp`, `9/sctp` → `port/proto` (tcp when omitted, as Docker stores it). */
export function normalizePort(text: string): string {
  const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = match ? Number(match[1]) : 0;
  if (!match || port < 1 || port > 65535)
    throw new InvalidSettingError(
      "exposedPorts",
      `must be a port from 1 to 65535 with an optional /tcp, /udp or /sctp, not "${text}"`,
    );
  return `${port}/${(match[2] ?? "tcp").toLowerCase()}`;
}

const SIGNALS = new Set(
  "HUP INT QUIT ILL TRAP ABRT IOT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO POLL PWR SYS".split(
    " ",
  ),
);

/** `SIGTERM`, `TERM` (→ `SIGTERM`), `SIGRTMIN+3`, or a number from 1 to 64. */
export function normalizeSignal(text: string): string {
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 64) return text;
  const name = text.toUpperCase().replace(/^SIG/, "");
  if (SIGNALS.has(name) || /^RTM(IN(\+\d{1,2})?|AX(-\d{1,2})?)$/.test(name)) return `SIG${name}`;
  throw new InvalidSettingError(
    "stopSignal",
    `must be a signal name such as SIGTERM or a number from 1 to 64, not "${text}"`,
  );
}

function checkOwner(owner: { uid: number; gid: number }): { uid: number; gid: number } {
  const id = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  if (!id(owner.uid) || !id(owner.gid))
    throw new InvalidSettingError("owner", `must be whole numbers from 0 to 4294967295, not ${owner.uid}:${owner.gid}`);
  return { uid: owner.uid, gid: owner.gid };
}

function absolutePath(setting: string, path: string): string {
  if (!path.startsWith("/"))
    throw new InvalidSettingError(setting, `must be an absolute path inside the container, not "${path}"`);
  return path;
}

function nonEmpty(setting: string, text: string): string {
  if (text === "") throw new InvalidSettingError(setting, "must not be empty");
  return text;
}
