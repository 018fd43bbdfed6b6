/** `oci-image inspect <layout>[:<tag>] | <image>`: a summary, or the manifest or config bytes as they are. */
import { resolve } from "node:path";
import { Command } from "commander";
import { UsageError } from "../errors.js";
import type { DocumentSource, Inspected, InspectSummary } from "../image/inspect.js";
import type { Target } from "../transfer/layout-or-reference.js";
import { formatBytes } from "../ui/format.js";
import { outputFor, type CommandContext, type OutputFlags } from "./context.js";
import { addRegistryOptions, connectionFrom, type RegistryFlags } from "./registry-flags.js";

interface InspectFlags extends OutputFlags, RegistryFlags {
  raw?: boolean;
  config?: boolean;
  platform?: string;
}

export function createInspectCommand(context: CommandContext): Command {
  const command = new Command("inspect")
    .description("show an image or index of a layout or a registry: config, layers, platforms (no layer is read)")
    .argument("<layout[:tag]|image>", "a layout (with :<tag> when it holds several) or a registry image")
    .option("--raw", "print the manifest or index bytes exactly as stored or served")
    .option("--config", "print the config blob's bytes")
    .option("-p, --platform <os/arch[/variant]>", "the image to inspect in an index")
    .option("--json", "print the summary as one JSON document")
    .option("-q, --quiet", "print nothing but errors on stderr");
  return addRegistryOptions(command)
    .addHelpText(
      "after",
      `
Examples:
  oci-image inspect ./images:alpine
  oci-image inspect --raw ./images:alpine | jq .
  oci-image inspect --config -p linux/arm64 docker.io/library/alpine:3.20
  oci-image inspect oci:alpine           the layout ./alpine even if it looks like a reference

A directory that exists is a layout; anything else a registry image.`,
    )
    .action(async (argument: string, flags: InspectFlags) => {
      if (flags.raw && flags.config) throw new UsageError("--raw and --config exclude each other");
      const { classifyTarget, explainReading } = await import("../transfer/layout-or-reference.js");
      const target = await classifyTarget(argument, context.cwd);
      try {
        await withDocuments(context, target, flags, async (source) => {
          const { inspectDocuments } = await import("../image/inspect.js");
          const { parsePlatform } = await import("../image/platform.js");
          const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
          print(context, await inspectDocuments(source, { reference: argument, platform }), flags);
        });
      } catch (error) {
        throw explainReading(error, argument, target);
      }
    });
}

async function withDocuments(
  context: CommandContext,
  target: Target,
  flags: InspectFlags,
  use: (source: DocumentSource) => Promise<void>,
): Promise<void> {
  if (target.kind === "layout") {
    const { ImageLayout } = await import("../layout/layout.js");
    const { layoutDocuments } = await import("../layout/layout-documents.js");
    const layout = await ImageLayout.open(resolve(context.cwd, target.path));
    return use(layoutDocuments(layout, target.tag));
  }
  const { RegistryClient } = await import("../registry/client.js");
  const { registryDocuments } = await import("../registry/registry-documents.js");
  const { withHint } = await import("./registry-flags.js");
  const { registry } = target.reference;
  const warn = (message: string) => outputFor(context, flags).warn(message);
  const connection = await connectionFrom(flags, context, registry, warn);
  const client = new RegistryClient({ ...connection, registry, signal: context.signal });
  try {
    await use(registryDocuments(client, target.reference));
  } catch (error) {
    throw await withHint(error);
  } finally {
    await client.close();
  }
}

function print(context: CommandContext, inspected: Inspected, flags: InspectFlags): void {
  if (flags.raw) return void context.stdout.write(inspected.raw);
  if (flags.config) {
    if (!inspected.config)
      throw new UsageError(`${inspected.summary.digest} is an index: it has no config; pick an image with -p os/arch`);
    return void context.stdout.write(inspected.config);
  }
  outputFor(context, flags).result({ ok: true, ...inspected.summary }, inspectLines(inspected.summary));
}

const WIDTH = 15;

function field(name: string, values: string[]): string[] {
  if (values.length === 0) return [];
  return values.map((value, i) => `${(i === 0 ? name : "").padEnd(WIDTH)}${value}`);
}

function pairs(record: Record<string, string> | undefined): string[] {
  return Object.entries(record ?? {}).map(([key, value]) => `${key}=${value}`);
}

/** The human summary: one field a line, lists indented under their heading. */
function inspectLines(summary: InspectSummary): string[] {
  const lines = [
    ...field("Reference", [summary.reference]),
    ...field("Digest", [summary.digest]),
    ...field("Media type", [summary.mediaType]),
    ...field("Artifact type", summary.artifactType ? [summary.artifactType] : []),
    ...field("Created", summary.created ? [summary.created] : []),
    ...field("Platform", summary.platform ? [summary.platform] : []),
    ...field("Subject", summary.subject ? [summary.subject] : []),
    ...field("Size", summary.size !== undefined ? [formatBytes(summary.size)] : []),
  ];
  if (summary.manifests) {
    const width = Math.max(0, ...summary.manifests.map((entry) => (entry.platform ?? "-").length));
    lines.push(
      ...field(
        "Platforms",
        summary.manifests.map((entry) => `${(entry.platform ?? "-").padEnd(width)}  ${entry.digest}`),
      ),
    );
  }
  if (summary.layers) {
    const layers = summary.layers.map(
      (layer) => `${layer.digest}  ${formatBytes(layer.size).padStart(9)}  ${layer.mediaType}`,
    );
    lines.push(...field("Layers", layers.length ? layers : ["(none)"]));
  }
  const config = summary.config ?? {};
  lines.push(
    ...field("Env", config.Env ?? []),
    ...field("Entrypoint", config.Entrypoint ? [JSON.stringify(config.Entrypoint)] : []),
    ...field("Cmd", config.Cmd ? [JSON.stringify(config.Cmd)] : []),
    ...field("User", config.User ? [config.User] : []),
    ...field("WorkingDir", config.WorkingDir ? [config.WorkingDir] : []),
    ...field(
      "ExposedPorts",
      Object.keys(config.ExposedPorts ?? {}).length ? [Object.keys(config.ExposedPorts!).join(", ")] : [],
    ),
    ...field("Labels", pairs(config.Labels)),
    ...field("Annotations", pairs(summary.annotations)),
  );
  return lines;
}
