/** The flags every command that talks to a registry shares (auth, transport), and what they become. */
import type { Readable } from "node:stream";
import { InvalidArgumentError, type Command } from "commander";
import type { Advice } from "../registry/advice.js";
import type { RegistryClientOptions } from "../registry/client.js";
import { wholeNumber, type CommandContext } from "./context.js";

/** Authentication and transport: what every command that talks to a registry takes. */
export interface RegistryFlags {
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  retries: number;
  timeout: number;
}

/** A command that moves blobs also says how many at once. */
export interface ConnectionFlags extends RegistryFlags {
  jobs: number;
}

/** Adds the registry flags and -j; `moved` says what -j counts. */
export function addConnectionOptions(command: Command, moved: string): Command {
  return addRegistryOptions(command).option("-j, --jobs <n>", `blobs ${moved} at once`, wholeNumber("--jobs", 1), 4);
}

/** Adds -u, --password-stdin, --plain-http, --insecure, --retries and --timeout. */
export function addRegistryOptions(command: Command): Command {
  return command
    .option("-u, --username <user>", "registry user name (with --password-stdin)")
    .option("--password-stdin", "read the registry password from stdin")
    .option("--plain-http", "talk HTTP instead of HTTPS (automatic for localhost and 127.0.0.0/8)")
    .option("--insecure", "HTTPS without certificate checks")
    .option(
      "--retries <n>",
      "attempts after a failure (network, 429, 5xx, bad bytes)",
      wholeNumber("--retries", 0, 100),
      3,
    )
    .option(
      "--timeout <seconds>",
      "give up on a transfer that sends nothing, or under 1 KiB/s, for this long",
      seconds("--timeout"),
      30,
    );
}

/** The registry client's options from the flags: credentials looked up only when the registry asks. */
export async function connectionFrom(
  flags: RegistryFlags,
  context: CommandContext,
  registry: string,
  warn: (message: string) => void,
): Promise<Omit<RegistryClientOptions, "registry" | "signal">> {
  const explicit = await explicitCredentials(flags, context.stdin);
  const { findCredentials } = await import("../registry/credentials.js");
  return {
    credentials: () => findCredentials(registry, { explicit, env: context.env }),
    plainHttp: flags.plainHttp ? true : undefined,
    insecure: flags.insecure,
    retries: flags.retries,
    timeoutMs: Math.round(flags.timeout * 1000),
    retryDelayMs: retryDelayFrom(context.env),
    onRetry: warn,
  };
}

function retryDelayFrom(env: CommandContext["env"]): number | undefined {
  const delay = Number(env.OCI_IMAGE_RETRY_DELAY_MS);
  return Number.isFinite(delay) && delay >= 0 ? delay : undefined;
}

/** The command's advice on a registry error, in its own flags. */
export async function withHint(error: unknown): Promise<unknown> {
  const { adviceOf } = await import("../registry/advice.js");
  const hints: Record<Advice, string> = {
    "log-in": ": log in (docker login) or pass -u and --password-stdin",
    "skip-tls-check": " (use --insecure to skip the check)",
    "choose-platform": " (choose with --platform, or --platform all)",
    "single-platform": " (without --platform it is fetched as it is)",
  };
  const advice = adviceOf(error);
  if (advice) (error as Error).message += hints[advice];
  return error;
}

/** `-u` with the password from stdin; each without the other is a usage error. */
async function explicitCredentials(
  flags: RegistryFlags,
  stdin: Readable,
): Promise<{ username: string; password: string } | undefined> {
  const { UsageError } = await import("../errors.js");
  if (flags.passwordStdin && !flags.username) throw new UsageError("--password-stdin needs --username");
  if (flags.username && !flags.passwordStdin)
    throw new UsageError(
      "--username needs --password-stdin (the password is read from stdin, never from the command line)",
    );
  return flags.username ? { username: flags.username, password: await readPassword(stdin) } : undefined;
}

async function readPassword(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

function seconds(name: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+(?:\.\d+)?$/.test(value) || number <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number of seconds, not "${value}"`);
    return number;
  };
}
