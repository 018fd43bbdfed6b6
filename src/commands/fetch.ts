/** `oci-image fetch <image> <layout>[:<tag>]`: registry → layout. */
import { Command, InvalidArgumentError } from "commander";
import type { Readable } from "node:stream";
import { outputFor, wholeNumber, type CommandContext } from "./context.js";
import type { Descriptor } from "../image/types.js";
import type { PullResult } from "../registry/pull.js";
import type { RegistryClient } from "../registry/client.js";
import type { ImageReference } from "../registry/reference.js";
import { count as plural, formatBytes } from "../ui/format.js";
import type { Output } from "../ui/output.js";

interface FetchFlags {
  platform?: string;
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  jobs: number;
  retries: number;
  timeout: number;
  json?: boolean;
  quiet?: boolean;
}

export function createFetchCommand(context: CommandContext): Command {
  return new Command("fetch")
    .description("pull an image from a registry into an OCI image layout")
    .argument("<image>", "[registry[:port]/]name[:tag][@digest], e.g. alpine:3.20 or ghcr.io/org/app@sha256:…")
    .argument("<layout>", "layout directory (created when missing), optionally :<tag> to name the ref")
    .option(
      "-p, --platform <os/arch[/variant]>",
      "image to keep from a multi-platform index (default: this machine's), or 'all'",
    )
    .option("-u, --username <user>", "registry user name (with --password-stdin)")
    .option("--password-stdin", "read the registry password from stdin")
    .option("--plain-http", "talk HTTP instead of HTTPS (automatic for localhost and 127.0.0.0/8)")
    .option("--insecure", "HTTPS without certificate checks")
    .option("-j, --jobs <n>", "blobs downloaded at once", wholeNumber("--jobs", 1), 4)
    .option(
      "--retries <n>",
      "attempts after a failure (network, 429, 5xx, bad bytes)",
      wholeNumber("--retries", 0, 100),
      3,
    )
    .option("--timeout <seconds>", "give up on a request that sends nothing for this long", seconds("--timeout"), 30)
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors on stderr")
    .addHelpText(
      "after",
      "\nExamples:\n  oci-image fetch alpine:3.20 ./images\n  oci-image fetch --platform linux/arm64 ghcr.io/org/app:1.2 ./images:app\n  oci-image fetch --platform all localhost:5000/tool@sha256:… ./images:tool\n",
    )
    .action(async (image: string, layoutArgument: string, flags: FetchFlags) =>
      runFetch(context, image, layoutArgument, flags),
    );
}

async function runFetch(
  context: CommandContext,
  image: string,
  layoutArgument: string,
  flags: FetchFlags,
): Promise<void> {
  const { UsageError } = await import("../errors.js");
  const { parseReference, formatReference } = await import("../registry/reference.js");
  const { parseLayoutArgument } = await import("../layout/refs.js");
  const { parsePlatform, hostPlatform } = await import("../image/platform.js");
  const { CONTAINERD_NAME_ANNOTATION } = await import("../image/types.js");
  const output = outputFor(context, flags);
  const reference = parseReference(image);
  const target = parseLayoutArgument(layoutArgument);
  const platform = flags.platform === "all" ? "all" : flags.platform ? parsePlatform(flags.platform) : hostPlatform();
  if (flags.passwordStdin && !flags.username) throw new UsageError("--password-stdin needs --username");
  if (flags.username && !flags.passwordStdin)
    throw new UsageError(
      "--username needs --password-stdin (the password is read from stdin, never from the command line)",
    );
  const explicit = flags.username
    ? { username: flags.username, password: await readPassword(context.stdin) }
    : undefined;

  const { pullImage } = await import("../registry/pull.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createTransferDisplay, transferEvents } = await import("../ui/transfer-display.js");
  const area = await createLiveArea(output);
  const client = await registryClient(context, reference, flags, explicit, (message) => area.warn(message));
  const { openLayoutLazily } = await import("../layout/lazy-layout.js");
  const layout = await openLayoutLazily(target.path);
  const display = createTransferDisplay(area, { doing: "fetching", done: "fetched" });
  try {
    const result = await pullImage({
      client,
      reference,
      sink: layout,
      platform,
      jobs: flags.jobs,
      signal: context.signal,
      events: transferEvents(display, (message) => area.warn(message)),
    });
    display.stop();
    const fullName = formatReference(reference);
    const refName = target.tag ?? reference.tag;
    const descriptor = {
      ...result.descriptor,
      annotations: { ...result.descriptor.annotations, [CONTAINERD_NAME_ANNOTATION]: fullName },
    };
    const store = await layout.materialize();
    const { replaced } = await store.addRef(descriptor, refName, context.signal);
    if (replaced && refName) output.info(`replaced ref "${refName}" (was ${replaced.digest})`);
    printResult(output, { result, descriptor, fullName, refName, layoutPath: target.path });
  } finally {
    display.stop();
    await client.close();
  }
}

async function registryClient(
  context: CommandContext,
  reference: ImageReference,
  flags: FetchFlags,
  explicit: { username: string; password: string } | undefined,
  warn: (message: string) => void,
): Promise<RegistryClient> {
  const { RegistryClient } = await import("../registry/client.js");
  const { findCredentials } = await import("../registry/credentials.js");
  const retryDelay = Number(context.env.OCI_IMAGE_RETRY_DELAY_MS);
  return new RegistryClient({
    registry: reference.registry,
    credentials: () => findCredentials(reference.registry, { explicit, env: context.env }),
    plainHttp: flags.plainHttp ? true : undefined,
    insecure: flags.insecure,
    retries: flags.retries,
    timeoutMs: Math.round(flags.timeout * 1000),
    retryDelayMs: Number.isFinite(retryDelay) && retryDelay >= 0 ? retryDelay : undefined,
    signal: context.signal,
    onRetry: warn,
  });
}

/** The result: JSON, or one line naming what was fetched where. */
function printResult(
  output: Output,
  fetched: { result: PullResult; descriptor: Descriptor; fullName: string; refName?: string; layoutPath: string },
): void {
  const { result, descriptor, fullName, refName } = fetched;
  const { fetched: count, skipped, bytes } = result.blobs;
  output.result(
    {
      ok: true,
      reference: fullName,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      platform: result.platform,
      ref: refName ?? null,
      sourceDigest: result.sourceDigest,
      converted: result.converted,
      blobs: { fetched: count, skipped, bytes },
    },
    [
      `${fullName} → ${fetched.layoutPath}${refName ? `:${refName}` : ""} ${descriptor.digest} (${result.platform}; ${plural(count, "blob")} fetched, ${skipped} already present, ${formatBytes(bytes)})`,
    ],
  );
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
