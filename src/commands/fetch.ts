/** `oci-image fetch <image> <layout>[:<tag>]`: registry → layout. */
import { resolve } from "node:path";
import { Command } from "commander";
import type { FetchImageResult } from "../transfer/fetch-image.js";
import { count, formatBytes } from "../ui/format.js";
import type { Output } from "../ui/output.js";
import { outputFor, wholeNumber, type CommandContext } from "./context.js";
import { addConnectionOptions, connectionFrom, withHint, type ConnectionFlags } from "./registry-flags.js";

interface FetchFlags extends ConnectionFlags {
  platform?: string;
  connections: number;
  json?: boolean;
  quiet?: boolean;
}

export function createFetchCommand(context: CommandContext): Command {
  const command = new Command("fetch")
    .description("pull an image from a registry into an OCI image layout")
    .argument("<image>", "[registry[:port]/]name[:tag][@digest], e.g. alpine:3.20 or ghcr.io/org/app@sha256:…")
    .argument("<layout>", "layout directory (created when missing), optionally :<tag> to name the ref")
    .option(
      "-p, --platform <os/arch[/variant]>",
      "image to keep from a multi-platform index (default: this machine's), or 'all'",
    );
  return addConnectionOptions(command, "downloaded")
    .option(
      "--connections <n>",
      "HTTP connections for blobs at once, in total (1: one stream per blob)",
      wholeNumber("--connections", 1, 64),
      12,
    )
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors on stderr")
    .addHelpText(
      "after",
      "\nConnections: at most --connections (default 12) HTTP connections for blobs in total, -j blobs at once;\n" +
        "a blob of 32 MiB or more starts as one stream and, when that stream would take more than half a second\n" +
        "longer, the rest comes as parallel Range requests over the free connections (one stream when the\n" +
        "registry ignores Range). Lower --connections for a registry that limits connections.\n" +
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
  const { fetchImage } = await import("../transfer/fetch-image.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createTransferDisplay, transferEvents } = await import("../ui/transfer-display.js");
  // Credentials first (a usage error or stdin read before any display); retries are told on the area.
  const connection = await connectionFrom(flags, context, reference.registry, (message) => area.warn(message));
  const area = await createLiveArea(output);
  const display = createTransferDisplay(area, { doing: "fetching", done: "fetched" });
  try {
    const result = await fetchImage({
      reference,
      layout: resolve(context.cwd, target.path),
      ref: target.tag,
      platform,
      jobs: flags.jobs,
      connections: flags.connections,
      signal: context.signal,
      connection,
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
