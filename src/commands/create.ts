/** `oci-image create <rootfs-dir> <layout>[:<tag>]`: a directory as an image of one layer. */
import { basename, resolve } from "node:path";
import { Command, Option } from "commander";
import { collect, outputFor, usageArgument, wholeNumber, type CommandContext } from "./context.js";
import { imageSettingsFrom, inFlagTerms, type CreateFlags } from "./create-flags.js";
import type { LayerCompression } from "../image/media-types.js";
import { parseLayoutArgument } from "../layout/refs.js";
import { count } from "../ui/format.js";

type LayoutTarget = { path: string; tag?: string };

interface CreateCommandFlags extends CreateFlags {
  base?: LayoutTarget;
  whiteouts?: boolean;
  compression: LayerCompression;
  level?: number;
  json?: boolean;
  quiet?: boolean;
}

const HELP_AFTER = `
Entries are stored in sorted order with their modes (setuid, setgid, sticky),
owners, times, symlink targets and hardlinks; device nodes and FIFOs are kept;
a socket is an error, and so is a .wh. file unless --whiteouts.
Extended attributes are not stored.
With --created or SOURCE_DATE_EPOCH, modification times later than it are
clamped to it, and the same tree gives the same digests every time.

Examples:
  oci-image create ./rootfs ./images:app --cmd '["/bin/app","--serve"]' --expose 8080
  oci-image create ./rootfs ./images --owner 0:0 -e PATH=/bin -w /srv --entrypoint /bin/app
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) oci-image create ./rootfs ./images:v1 --json
  oci-image create ./rootfs ./images:small --compression zstd --level 19 --platform linux/arm64

On a base image (fetched first; its layers are kept as they are):
  oci-image fetch docker.io/library/node:22-slim ./base:node
  oci-image create --base ./base:node ./app ./images:app -w /app --cmd '["node","/app/server.js"]'
  oci-image push ./images:app registry.example.com/team/app:1.0
  oci-image create --base ./base:node ./app ./images:app --remove /usr/share/doc -e NODE_ENV=production
With --base, -e and -l add to the base's variables and labels, and --entrypoint
without --cmd clears the base's Cmd.`;

export function createCommand(context: CommandContext): Command {
  return new Command("create")
    .description("build an image of one layer from a directory, alone or on a base image, and add it to a layout")
    .argument("<rootfs-dir>", "the directory whose contents become the image's filesystem")
    .argument(
      "<layout>",
      "the OCI layout to add it to (created when missing), optionally :<tag> to name the ref (default latest)",
      usageArgument(parseLayoutArgument),
    )
    .option(
      "--base <layout[:tag]>",
      "build on this image of a layout: its layers come first, its config is the starting point",
      usageArgument(parseLayoutArgument),
    )
    .option(
      "-p, --platform <os/arch[/variant]>",
      "the image's platform, or the one taken from a base index (default: this machine's)",
    )
    .option("--remove <path>", "delete this path of the base in the new layer, as a whiteout (repeatable)", collect)
    .option("--whiteouts", "store .wh. files of the directory as whiteouts (else they are refused)")
    .option("--entrypoint <json-array|string>", "ENTRYPOINT: a JSON array, or one program path")
    .option("--cmd <json-array|string>", "CMD: a JSON array, or one program path")
    .option("-e, --env <KEY=VALUE>", "an environment variable (repeatable)", collect)
    .option("-w, --workdir <dir>", "the working directory (absolute)")
    .option("-u, --user <user[:group]>", "the user the process runs as")
    .option("-l, --label <k=v>", "a config label (repeatable)", collect)
    .option("--expose <port[/proto]>", "an exposed port: 80, 80/tcp, 53/udp (repeatable)", collect)
    .option("--volume <path>", "a volume mount point (repeatable)", collect)
    .option("--stop-signal <SIG>", "the signal that stops the container, e.g. SIGTERM")
    .option("--author <text>", "the image's author")
    .option("--history <text>", "the history entry's created_by text")
    .option("--annotation <k=v>", "a manifest annotation (repeatable)", collect)
    .addOption(
      new Option("--compression <type>", "layer compression").choices(["gzip", "zstd", "none"]).default("gzip"),
    )
    .option("--level <n>", "compression level (gzip 0-9, zstd 1-22)", wholeNumber("--level", 0, 99))
    .option("--owner <uid:gid>", "store every entry with this owner, e.g. 0:0")
    .option(
      "--created <RFC 3339>",
      "the creation time (default SOURCE_DATE_EPOCH, else now); makes the build reproducible",
    )
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "print nothing on stderr but errors")
    .addHelpText("after", HELP_AFTER)
    .action((rootfs: string, target: LayoutTarget, flags: CreateCommandFlags) =>
      runCreate(context, rootfs, target, flags),
    );
}

/**
 * The tree's size for the progress total, walked beside the build. It yields
 * to the event loop now and then: the walk's calls are synchronous.
 */
async function measureTree(
  rootfs: string,
  signal: AbortSignal,
  report: (totals: { bytes: number; items: number }) => void,
): Promise<void> {
  const { walkTree } = await import("../layer/tree-walk.js");
  const seen = new Set<string>();
  let bytes = 0;
  let items = 0;
  try {
    for await (const { stats } of walkTree(rootfs, signal)) {
      items++;
      if (stats.isFile() && !(stats.nlink > 1n && seen.has(`${stats.dev}:${stats.ino}`))) {
        if (stats.nlink > 1n) seen.add(`${stats.dev}:${stats.ino}`);
        bytes += Number(stats.size);
      }
      if (items % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    report({ bytes, items });
  } catch {
    // The build itself walks the tree and reports what is wrong with it.
  }
}

async function runCreate(
  context: CommandContext,
  rootfs: string,
  target: LayoutTarget,
  flags: CreateCommandFlags,
): Promise<void> {
  const output = outputFor(context, flags);
  const settings = imageSettingsFrom(flags, { SOURCE_DATE_EPOCH: context.env.SOURCE_DATE_EPOCH });
  const rootfsPath = resolve(context.cwd, rootfs);
  const { createImage } = await import("../create/create-image.js");
  const { createLiveArea } = await import("../ui/live-area.js");
  const { createMeterDisplay } = await import("../ui/meter-display.js");
  const area = await createLiveArea(output);
  const display = createMeterDisplay(area, {
    title: `reading ${basename(rootfsPath)}`,
    item: "entry",
    items: "entries",
  });
  if (area.live) void measureTree(rootfsPath, context.signal, (totals) => display.totals(totals));
  let result;
  try {
    result = await createImage({
      ...settings,
      rootfs: rootfsPath,
      layout: resolve(context.cwd, target.path),
      tag: target.tag,
      compression: flags.compression,
      level: flags.level,
      ...(flags.base ? { base: { layout: resolve(context.cwd, flags.base.path), tag: flags.base.tag } } : {}),
      ...(flags.remove ? { remove: flags.remove } : {}),
      ...(flags.whiteouts ? { whiteouts: true } : {}),
      signal: context.signal,
      onTreeProgress: area.live ? (bytes, entries) => display.progress(bytes, entries) : undefined,
    });
  } catch (error) {
    throw inFlagTerms(error, flags);
  } finally {
    display.stop();
  }
  if (result.base) output.info(`on base ${result.base.digest} (${count(result.base.layers, "layer")})`);
  display.persist(
    `layer ${result.layer.digest} (${result.layer.size} bytes, ${result.layer.uncompressedSize} uncompressed)`,
  );
  if (result.replaced) output.info(`replaced ${target.tag ?? "latest"} in ${target.path} (was ${result.replaced})`);
  output.result(
    {
      ok: true,
      ref: result.ref,
      digest: result.digest,
      config: result.config.digest,
      layer: { digest: result.layer.digest, diffId: result.layer.diffId, size: result.layer.size },
      ...(result.base ? { base: result.base.digest } : {}),
    },
    [result.digest],
  );
}
