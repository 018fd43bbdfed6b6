/**
 * `create`'s flags as an image: the platform, the time, the container config,
 * the history entry, the manifest's annotations, and the config and manifest
 * documents themselves. Pure: no I/O, the clock and the host are parameters.
 */
import { UsageError } from "../errors.js";
import { MediaType } from "./media-types.js";
import { hostPlatform, parsePlatform, type PlatformSpec } from "./platform.js";
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, ImageManifest, Platform } from "./types.js";

export const CREATED_ANNOTATION = "org.opencontainers.image.created";
export const DEFAULT_CREATED_BY = "oci-image create";

/** The flags as the command line gives them (strings, repeatable ones as arrays). */
export interface BuildFlags {
  platform?: string;
  entrypoint?: string;
  cmd?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  label?: string[];
  expose?: string[];
  volume?: string[];
  stopSignal?: string;
  author?: string;
  history?: string;
  annotation?: string[];
  created?: string;
  owner?: string;
}

export interface BuildSettings {
  platform: PlatformSpec;
  /** RFC 3339, UTC. */
  created: string;
  /** `created` in whole seconds since the epoch. */
  createdSeconds: number;
  /** True when the time came from `--created` or SOURCE_DATE_EPOCH: mtimes are clamped to it. */
  reproducible: boolean;
  config: ContainerConfig;
  author?: string;
  createdBy: string;
  annotations: Record<string, string>;
  owner?: { uid: number; gid: number };
}

export interface BuildEnvironment {
  SOURCE_DATE_EPOCH?: string;
}

/** Checks and resolves every flag; throws a UsageError (exit 2) naming the first bad one. */
export function resolveBuildSettings(
  flags: BuildFlags,
  env: BuildEnvironment = {},
  now: Date = new Date(),
  host: PlatformSpec = hostPlatform(),
): BuildSettings {
  const platform = flags.platform === undefined ? host : parsePlatform(flags.platform);
  const time = resolveCreated(flags.created, env.SOURCE_DATE_EPOCH, now);
  const config: ContainerConfig = {};
  if (flags.user !== undefined) config.User = nonEmpty("--user", flags.user);
  if (flags.expose?.length) config.ExposedPorts = Object.fromEntries(flags.expose.map((port) => [parsePort(port), {}]));
  if (flags.env?.length) config.Env = mergeEnv(flags.env);
  if (flags.entrypoint !== undefined) config.Entrypoint = parseCommandLine("--entrypoint", flags.entrypoint);
  if (flags.cmd !== undefined) config.Cmd = parseCommandLine("--cmd", flags.cmd);
  if (flags.volume?.length)
    config.Volumes = Object.fromEntries(flags.volume.map((path) => [absolutePath("--volume", path), {}]));
  if (flags.workdir !== undefined) config.WorkingDir = absolutePath("--workdir", flags.workdir);
  if (flags.label?.length) config.Labels = parsePairs("--label", flags.label);
  if (flags.stopSignal !== undefined) config.StopSignal = parseSignal(flags.stopSignal);
  const annotations = { [CREATED_ANNOTATION]: time.created, ...parsePairs("--annotation", flags.annotation ?? []) };
  return {
    platform,
    ...time,
    config,
    ...(flags.author !== undefined ? { author: flags.author } : {}),
    createdBy: flags.history ?? DEFAULT_CREATED_BY,
    annotations,
    ...(flags.owner !== undefined ? { owner: parseOwner(flags.owner) } : {}),
  };
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

/** `--created` (RFC 3339) wins over SOURCE_DATE_EPOCH (whole seconds); else now, not reproducible. */
export function resolveCreated(
  created: string | undefined,
  sourceDateEpoch: string | undefined,
  now: Date,
): { created: string; createdSeconds: number; reproducible: boolean } {
  if (created !== undefined) {
    const match = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(created);
    const ms = match ? Date.parse(created.replace(" ", "T")) : Number.NaN;
    if (Number.isNaN(ms))
      throw new UsageError(`--created must be an RFC 3339 time such as 2024-01-02T03:04:05Z, not "${created}"`);
    return { created: formatTime(ms), createdSeconds: Math.floor(ms / 1000), reproducible: true };
  }
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== "") {
    if (!/^\d{1,12}$/.test(sourceDateEpoch))
      throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not "${sourceDateEpoch}"`);
    const seconds = Number(sourceDateEpoch);
    return { created: formatTime(seconds * 1000), createdSeconds: seconds, reproducible: true };
  }
  const ms = now.getTime();
  return { created: formatTime(ms), createdSeconds: Math.floor(ms / 1000), reproducible: false };
}

/** UTC, and without fractions when there are none: `2024-01-02T03:04:05Z`. */
function formatTime(ms: number): string {
  if (ms < 0 || ms > 253402300799999) throw new UsageError(`the creation time must fall between years 1970 and 9999`);
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * `--cmd` and `--entrypoint`: a JSON array of strings is used as is; any other
 * text is one argument (the program to run), never split and never wrapped in
 * a shell: an image need not have one. Write `["/bin/sh","-c","…"]` for a shell.
 */
export function parseCommandLine(flag: string, text: string): string[] {
  if (text.trimStart().startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`${flag} looks like a JSON array but is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw new UsageError(`${flag} must be a JSON array of strings, e.g. '["/bin/sh","-c","echo hi"]'`);
    }
    return value as string[];
  }
  return [nonEmpty(flag, text)];
}

/** `KEY=VALUE` entries; a later one of the same KEY replaces the earlier, in its place. */
export function mergeEnv(entries: string[]): string[] {
  const values = new Map<string, string>();
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0)
      throw new UsageError(
        `--env must be KEY=VALUE, not "${entry}"${equals < 0 ? ` (write ${entry}= for an empty value)` : ""}`,
      );
    values.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return [...values].map(([key, value]) => `${key}=${value}`);
}

/** `k=v` pairs (labels, annotations); a later key replaces an earlier one. */
export function parsePairs(flag: string, entries: string[]): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0) throw new UsageError(`${flag} must be key=value, not "${entry}"`);
    pairs[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return pairs;
}

/** `80`, `80/tcp`, `53/udp`, `9/sctp` → `port/proto` (tcp when omitted, as Docker stores it). */
export function parsePort(text: string): string {
  const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = match ? Number(match[1]) : 0;
  if (!match || port < 1 || port > 65535)
    throw new UsageError(`--expose must be a port from 1 to 65535 with an optional /tcp, /udp or /sctp, not "${text}"`);
  return `${port}/${(match[2] ?? "tcp").toLowerCase()}`;
}

const SIGNALS = new Set(
  "HUP INT QUIT ILL TRAP ABRT IOT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO POLL PWR SYS".split(
    " ",
  ),
);

/** `SIGTERM`, `TERM` (→ `SIGTERM`), `SIGRTMIN+3`, or a number from 1 to 64. */
export function parseSignal(text: string): string {
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 64) return text;
  const name = text.toUpperCase().replace(/^SIG/, "");
  if (SIGNALS.has(name) || /^RTM(IN(\+\d{1,2})?|AX(-\d{1,2})?)$/.test(name)) return `SIG${name}`;
  throw new UsageError(`--stop-signal must be a signal name such as SIGTERM or a number from 1 to 64, not "${text}"`);
}

/** `uid:gid`, both whole numbers. */
export function parseOwner(text: string): { uid: number; gid: number } {
  const match = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  const uid = match ? Number(match[1]) : -1;
  const gid = match ? Number(match[2]) : -1;
  if (!match || uid > 0xffffffff || gid > 0xffffffff)
    throw new UsageError(`--owner must be uid:gid in numbers, e.g. 0:0, not "${text}"`);
  return { uid, gid };
}

function absolutePath(flag: string, path: string): string {
  if (!path.startsWith("/"))
    throw new UsageError(`${flag} must be an absolute path inside the container, not "${path}"`);
  return path;
}

function nonEmpty(flag: string, text: string): string {
  if (text === "") throw new UsageError(`${flag} must not be empty`);
  return text;
}
