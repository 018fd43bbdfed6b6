/** The registry flags of every command that talks to a registry, as fetch takes them. */
import type { Command } from "commander";
import type { RegistryClientOptions } from "../registry/client.js";
import type { ImageReference } from "../registry/reference.js";
import { outputFor, wholeNumber, type CommandContext, type OutputFlags } from "./context.js";
import { explicitCredentials, retryDelayFrom, seconds } from "./fetch.js";

export interface RegistryFlags extends OutputFlags {
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  retries: number;
  timeout: number;
}

export function addRegistryOptions(command: Command): Command {
  return command
    .option("-u, --username <user>", "registry user name (with --password-stdin)")
    .option("--password-stdin", "read the registry password from stdin")
    .option("--plain-http", "talk HTTP instead of HTTPS (automatic for localhost and 127.0.0.0/8)")
    .option("--insecure", "HTTPS without certificate checks")
    .option("--retries <n>", "attempts after a failure (network, 429, 5xx)", wholeNumber("--retries", 0, 100), 3)
    .option("--timeout <seconds>", "give up on a request that answers nothing for this long", seconds("--timeout"), 30);
}

/** A registry client's options for `reference`'s registry, with credentials found as fetch finds them. */
export async function registryConnection(
  context: CommandContext,
  flags: RegistryFlags,
  reference: ImageReference,
): Promise<RegistryClientOptions> {
  const explicit = await explicitCredentials(flags, context.stdin);
  const { findCredentials } = await import("../registry/credentials.js");
  return {
    registry: reference.registry,
    credentials: () => findCredentials(reference.registry, { explicit, env: context.env }),
    plainHttp: flags.plainHttp ? true : undefined,
    insecure: flags.insecure,
    retries: flags.retries,
    timeoutMs: Math.round(flags.timeout * 1000),
    retryDelayMs: retryDelayFrom(context.env),
    signal: context.signal,
    onRetry: (message) => outputFor(context, flags).warn(message),
  };
}
