/** `oci-image unpack <layout>[:<tag>] <bundle-dir>`: a runtime bundle that runc can start. */
import { Command } from "commander";
import { outputFor, wholeNumber, usageArgument, type CommandContext } from "./context.js";
import { parseLayoutArgument } from "../layout/refs.js";
import { parsePlatform } from "../image/platform.js";
import { resolve } from "node:path";
import type { MeterDisplay } from "../ui/meter-display.js";

interface UnpackFlags {
  platform?: ReturnType<typeof parsePlatform>;
  rootless?: boolean;
  rootfsOnly?: boolean;
  configOnly?: boolean;
  tty?: boolean;
  maxSize?: number;
  json?: boolean;
  quiet?: boolean;
}

export function createUnpackCommand(context: CommandContext): Command {
  return new Command("unpack")
    .description("make a runtime bundle (rootfs/ and config.json) from an image of a layout")
    .argument(
      "<layout>",
      "layout directory, optionally :<tag> (omit the tag when the layout holds one image)",
      usageArgument(parseLayoutArgument),
    )
    .argument("<bundle-dir>", "empty or new directory for the bundle (created 0700)")
    .option(
      "-p, --platform <os/arch[/variant]>",
      "image to use from a multi-platform index (default: the host's)",
      usageArgument(parsePlatform),
    )
    .option("--rootless", "no chown, devices skipped, user-namespace config for the caller (default when not root)")
    .option("--rootfs-only", "write only rootfs/")
    .option("--config-only", "write only config.json")
    .option("--tty", "process.terminal: true in config.json")
    .option(
      "--max-size <bytes>",
      "stop when the uncompressed layers exceed this many bytes",
      wholeNumber("--max-size", 1),
    )
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing on stderr but errors")
    .addHelpText(
      "after",
      `
Examples:
  oci-image unpack ./images:alpine ./bundle && sudo runc run -b ./bundle demo
  oci-image unpack --rootless ./images ./bundle     # as a normal user; runc run works without root
  oci-image unpack -p linux/arm64 --rootfs-only ./images:multi ./arm-rootfs`,
    )
    .action((layoutArgument: ReturnType<typeof parseLayoutArgument>, bundleDir: string, flags: UnpackFlags) =>
      runUnpack(context, layoutArgument, bundleDir, flags),
    );
}

/**
 * Layer n/N, with the bytes unpacked so far (uncompressed: the layers' sizes
 * are compressed, so there is no total to compare with), polled while a layer
 * is applied.
 */
function layerProgress(display: MeterDisplay) {
  let done = 0;
  let before = 0;
  let current: (() => number) | undefined;
  const show = () => display.progress(before + (current?.() ?? 0), done);
  let timer: NodeJS.Timeout | undefined;
  return {
    planned: (layers: readonly unknown[]) => {
      display.totals({ items: layers.length });
      show();
      timer ??= setInterval(show, 100).unref();
    },
    started: (_index: number, bytesRead: () => number) => {
      current = bytesRead;
    },
    applied: () => {
      before += current?.() ?? 0;
      current = undefined;
      done++;
      show();
    },
    stop: () => clearInterval(timer),
  };
}

async function runUnpack(
  context: CommandContext,
  layoutArgument: ReturnType<typeof parseLayoutArgument>,
  bundleDir: string,
  flags: UnpackFlags,
): Promise<void> {
  const output = outputFor(context, flags);
  if (flags.rootfsOnly && flags.configOnly) {
    const { UsageError } = await import("../errors.js");
    throw new UsageError("--rootfs-only and --config-only exclude each other; give at most one");
  }
  const { unpackImage } = await import("../bundle/unpack-image.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createMeterDisplay } = await import("../ui/meter-display.js");
  const { count } = await import("../ui/format.js");
  const area = await createLiveArea(output);
  const display = createMeterDisplay(area, { title: "unpacking layers", item: "layer" });
  const layers = layerProgress(display);
  const bundle = resolve(context.cwd, bundleDir);
  let result;
  try {
    result = await unpackImage({
      layout: resolve(context.cwd, layoutArgument.path),
      tag: layoutArgument.tag,
      bundle,
      platform: flags.platform,
      rootless: flags.rootless ? true : undefined,
      rootfsOnly: flags.rootfsOnly,
      configOnly: flags.configOnly,
      tty: flags.tty,
      maxSize: flags.maxSize,
      signal: context.signal,
      onWarning: (message) => area.warn(message),
      onLayersPlanned: layers.planned,
      onLayerStarted: layers.started,
      onStep: (message) => {
        layers.applied();
        display.persist(message);
      },
    });
  } finally {
    layers.stop();
    display.stop();
  }
  output.result(
    {
      ok: true,
      ref: result.ref ?? null,
      digest: result.digest,
      platform: result.platform,
      layers: result.layers,
      rootfs: result.rootfs ?? null,
      config: result.config ?? null,
    },
    [`unpacked ${result.ref ?? result.digest} (${result.platform}, ${count(result.layers, "layer")}) into ${bundle}`],
  );
}
