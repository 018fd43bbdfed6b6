/** `oci-image fetch <image> <layout>[:<tag>]`: registry → layout. */
import { resolve } from "node:path";
import { Command } from "commander";
import type { FetchImageResult } from "../transfer/fetch-image.js";
import { count, formatBytes } from "../ui/format.js";
import type { Output } from "../ui/output.js";
import { outputFor, wholeNumber, type CommandContext } from "./context.js";
import { explicitCredentials, retryDelayFrom, seconds, withHint } from "./registry-options.js";

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
    .option(
      "--timeout <seconds>",
      "give up on a transfer that sends nothing, or under 1 KiB/s, for this long",
      seconds("--timeout"),
      30,
    )
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors on stderr")
    .addHelpText(
      "after",
      "\nExamples:\n  oci-image fetch alpine:3.20 ./images\n" +
        "  oci-image fetch --platform linux/arm64 ghcr.io/org/app:1.2 ./images:app\n" +
        "  oci-image fetch --platform all localhost:5000/tool@sha256:… ./images:tool\n",
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
  const { parseReference } = await import("../registry/reference.js");
  const { parseLayoutArgument } = await import("../layout/refs.js");
  const { parsePlatform } = await import("../image/platform.js");
  const output = outputFor(context, flags);
  const reference = parseReference(image);
  const target = parseLayoutArgument(layoutArgument);
  const platform = flags.platform === "all" ? "all" : flags.platform ? parsePlatform(flags.platform) : undefined;
  const explicit = await explicitCredentials(flags, context.stdin);

  const { findCredentials } = await import("../registry/credentials.js");
  const { fetchImage } = await import("../transfer/fetch-image.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createTransferDisplay, transferEvents } = await import("../ui/transfer-display.js");
  const area = await createLiveArea(output);
  const display = createTransferDisplay(area, { doing: "fetching", done: "fetched" });
  try {
    const result = await fetchImage({
      reference,
      layout: resolve(context.cwd, target.path),
      ref: target.tag,
      platform,
      jobs: flags.jobs,
      signal: context.signal,
      connection: {
        credentials: () => findCredentials(reference.registry, { explicit, env: context.env }),
        plainHttp: flags.plainHttp ? true : undefined,
        insecure: flags.insecure,
        retries: flags.retries,
        timeoutMs: Math.round(flags.timeout * 1000),
        retryDelayMs: retryDelayFrom(context.env),
        onRetry: (message) => area.warn(message),
      },
      events: transferEvents(display, (message) => area.warn(message)),
    });
    display.stop();
    printResult(output, result, target.path);
  } catch (error) {
    throw await withHint(error);
  } finally {
    display.stop();
  }
}

/** The result: JSON, or one line naming what was fetched where. */
function printResult(output: Output, result: FetchImageResult, layoutPath: string): void {
  const { descriptor, ref, replaced } = result;
  if (replaced && ref) output.info(`replaced ref "${ref}" (was ${replaced.digest})`);
  const { fetched, skipped, bytes } = result.blobs;
  // A converted image's digest is not the registry's: say which one to pin.
  const source = result.sourceDigest !== descriptor.digest ? `; registry digest ${result.sourceDigest}` : "";
  const counts = `${count(fetched, "blob")} fetched, ${skipped} already present, ${formatBytes(bytes)}`;
  output.result(
    {
      ok: true,
      reference: result.reference,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      platform: result.platform,
      ref: ref ?? null,
      sourceDigest: result.sourceDigest,
      converted: result.converted,
      blobs: { fetched, skipped, bytes },
    },
    [
      `${result.reference} → ${layoutPath}${ref ? `:${ref}` : ""} ${descriptor.digest} ` +
        `(${result.platform}${source}; ${counts})`,
    ],
  );
}
