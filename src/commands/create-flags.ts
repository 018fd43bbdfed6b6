/**
 * `create`'s flags as the library's typed settings: the text of the command
 * line becomes arrays, records, a Date and an owner here, and the library's
 * InvalidSettingError becomes a usage error that names the flag.
 */
import { InvalidSettingError, UsageError } from "../errors.js";
import type { ImageSettings } from "../image/build-config.js";
import { parsePlatform } from "../image/platform.js";

/** The flags as the command line gives them (strings, repeatable ones as arrays). */
export interface CreateFlags {
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
  remove?: string[];
}

export interface CreateEnvironment {
  SOURCE_DATE_EPOCH?: string;
}

/** Turns the flags' text into settings; throws a UsageError (exit 2) naming the first flag that is not well formed. */
export function imageSettingsFrom(flags: CreateFlags, env: CreateEnvironment = {}): ImageSettings {
  const settings: ImageSettings = {
    env: flags.env,
    workdir: flags.workdir,
    user: flags.user,
    exposedPorts: flags.expose,
    volumes: flags.volume,
    stopSignal: flags.stopSignal,
    author: flags.author,
    history: flags.history,
  };
  if (flags.platform !== undefined) settings.platform = parsePlatform(flags.platform);
  const created = parseCreated(flags.created, env.SOURCE_DATE_EPOCH);
  if (created !== undefined) settings.created = created;
  if (flags.entrypoint !== undefined) settings.entrypoint = parseCommandLine("--entrypoint", flags.entrypoint);
  if (flags.cmd !== undefined) settings.cmd = parseCommandLine("--cmd", flags.cmd);
  if (flags.label !== undefined) settings.labels = parsePairs("--label", flags.label);
  if (flags.annotation !== undefined) settings.annotations = parsePairs("--annotation", flags.annotation);
  if (flags.owner !== undefined) settings.owner = parseOwner(flags.owner);
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as ImageSettings;
}

/** The library's name of each setting → the flag that gives it. */
const FLAG_OF: Record<string, string> = {
  platform: "--platform",
  entrypoint: "--entrypoint",
  cmd: "--cmd",
  env: "--env",
  workdir: "--workdir",
  user: "--user",
  labels: "--label",
  exposedPorts: "--expose",
  volumes: "--volume",
  stopSignal: "--stop-signal",
  annotations: "--annotation",
  owner: "--owner",
  remove: "--remove",
  level: "--level",
  compression: "--compression",
};

/** A setting the library refused, said in flag terms (a usage error); any other error as it is. */
export function inFlagTerms(error: unknown, flags: CreateFlags): unknown {
  if (!(error instanceof InvalidSettingError)) return error;
  const flag =
    error.setting === "created"
      ? flags.created !== undefined
        ? "--created"
        : "SOURCE_DATE_EPOCH"
      : (FLAG_OF[error.setting] ?? error.setting);
  return new UsageError(`${flag} ${error.problem}`, { cause: error });
}

/** `--created` (RFC 3339) wins over SOURCE_DATE_EPOCH (whole seconds); neither: undefined (now). */
export function parseCreated(created: string | undefined, sourceDateEpoch: string | undefined): Date | undefined {
  if (created !== undefined) {
    const match = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(created);
    const ms = match ? Date.parse(created.replace(" ", "T")) : Number.NaN;
    if (Number.isNaN(ms))
      throw new UsageError(`--created must be an RFC 3339 time such as 2024-01-02T03:04:05Z, not "${created}"`);
    return new Date(ms);
  }
  if (sourceDateEpoch === undefined || sourceDateEpoch === "") return undefined;
  if (!/^\d{1,12}$/.test(sourceDateEpoch))
    throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not "${sourceDateEpoch}"`);
  return new Date(Number(sourceDateEpoch) * 1000);
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
  if (text === "") throw new UsageError(`${flag} must not be empty`);
  return [text];
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

/** `uid:gid`, both whole numbers (their range is the library's to check). */
export function parseOwner(text: string): { uid: number; gid: number } {
  const match = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!match) throw new UsageError(`--owner must be uid:gid in numbers, e.g. 0:0, not "${text}"`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}
