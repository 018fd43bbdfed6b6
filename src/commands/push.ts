/** `oci-image push <layout>[:<tag>] <image>`: layout → registry. */
import { resolve } from "node:path";
import { Command } from "commander";
import { parsePlatform } from "../image/platform.js";
import { parseLayoutArgument } from "../layout/refs.js";
import type { PushImageResult } from "../transfer/push-image.js";
import { count, formatBytes } from "../ui/format.js";
import type { Output } from "../ui/output.js";
import { outputFor, usageArgument, wholeNumber, type CommandContext } from "./context.js";
import { addConnectionOptions, connectionFrom, withHint, type ConnectionFlags } from "./registry-flags.js";

interface PushFlags extends ConnectionFlags {
  platform?: ReturnType<typeof parsePlatform>;
  from?: string;
  chunkSize?: number;
  json?: boolean;
  quiet?: boolean;
}

export function createPushCommand(context: CommandContext): Command {
  const command = new Command("push")
    .description("push an image of an OCI image layout to a registry")
    .argument(
      "<layout>",
      "layout directory, optionally :<tag> (omit the tag when the layout holds one image)",
      usageArgument(parseLayoutArgument),
    )
    .argument("<image>", "[registry[:port]/]name[:tag][@digest]; without a tag, the layout's tag is used")
    .option(
      "-p, --platform <os/arch[/variant]>",
      "push one image of a multi-platform index, as a plain manifest",
      usageArgument(parsePlatform),
    )
    .option("--from <repository>", "a repository of the same registry to mount blobs from instead of uploading them")
    .option(
      "--chunk-size <bytes>",
      "blobs larger than this are uploaded in chunks of this size (default 128 MiB)",
      wholeNumber("--chunk-size", 1024),
    );
  return addConnectionOptions(command, "uploaded")
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors on stderr")
    .addHelpText(
      "after",
      "\nExamples:\n  oci-image push ./images:app registry.example.com/team/app:1.4\n" +
        '  echo "$TOKEN" | oci-image push -u ci --password-stdin ./out:app ghcr.io/org/app:latest\n' +
        "  oci-image push --platform linux/arm64 ./images:tool localhost:5000/tool:arm64\n" +
        "  oci-image push ./images:app localhost:5000/app@sha256:…   # refused unless it is that digest\n" +
        "  oci-image create ./rootfs ./out:app && oci-image push ./out:app registry.example.com/team/app:1.4\n",
    )
    .action(async (layout: ReturnType<typeof parseLayoutArgument>, image: string, flags: PushFlags) =>
      runPush(context, layout, image, flags),
    );
}

async function runPush(
  context: CommandContext,
  layout: ReturnType<typeof parseLayoutArgument>,
  image: string,
  flags: PushFlags,
): Promise<void> {
  const { parseReference } = await import("../registry/reference.js");
  const output = outputFor(context, flags);
  const reference = parseReference(image, { defaultTag: false });
  const { pushImage } = await import("../transfer/push-image.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createTransferDisplay, transferEvents } = await import("../ui/transfer-display.js");
  const connection = await connectionFrom(flags, context, reference.registry, (message) => area.warn(message));
  const area = await createLiveArea(output);
  const display = createTransferDisplay(area, { doing: "pushing", done: "pushed" });
  try {
    const result = await pushImage({
      layout: resolve(context.cwd, layout.path),
      ref: layout.tag,
      reference,
      platform: flags.platform,
      from: flags.from,
      jobs: flags.jobs,
      chunkSize: flags.chunkSize,
      signal: context.signal,
      connection,
      events: transferEvents(display, (message) => area.warn(message)),
    });
    display.stop();
    printResult(output, result);
  } catch (error) {
    throw await withHint(error);
  } finally {
    display.stop();
  }
}

/** The result: JSON, or the pinned reference (on stdout) after a summary line. */
function printResult(output: Output, result: PushImageResult): void {
  const { pushed, skipped, mounted, bytes } = result.blobs;
  const tagged = result.tag && !result.tag.includes(":") ? ` (tag ${result.tag})` : "";
  output.info(
    `pushed ${result.digest}${tagged}: ${count(pushed, "blob")} uploaded (${formatBytes(bytes)}), ` +
      `${skipped} already there, ${mounted} mounted`,
  );
  output.result(
    {
      ok: true,
      reference: result.reference,
      digest: result.digest,
      mediaType: result.mediaType,
      tag: result.tag ?? null,
      blobs: { pushed, skipped, mounted, bytes },
    },
    [result.reference],
  );
}
