/** `oci-image gc [--dry-run] <layout>`: remove the blobs no ref reaches, and stale temp files. */
import { resolve } from "node:path";
import { Command } from "commander";
import { count, formatBytes } from "../ui/format.js";
import { outputFor, type CommandContext, type OutputFlags } from "./context.js";

interface GcFlags extends OutputFlags {
  dryRun?: boolean;
}

export function createGcCommand(context: CommandContext): Command {
  return new Command("gc")
    .description("remove the blobs no ref of a layout reaches, and temp files of writes interrupted over an hour ago")
    .argument("<layout>", "layout directory")
    .option("-n, --dry-run", "list what would be removed, with sizes, and remove nothing")
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors")
    .addHelpText(
      "after",
      `
Examples:
  oci-image gc --dry-run ./images
  oci-image rm ./images:old && oci-image gc ./images

Safe while fetch, create or push write into the same layout: what they are
writing or about to name is kept.`,
    )
    .action(async (layoutPath: string, flags: GcFlags) => {
      const output = outputFor(context, flags);
      const { ImageLayout } = await import("../layout/layout.js");
      const { collectGarbage } = await import("../layout/gc.js");
      const layout = await ImageLayout.open(resolve(context.cwd, layoutPath));
      const result = await collectGarbage(layout, { dryRun: flags.dryRun, signal: context.signal });
      const files = [...result.blobs, ...result.temporary];
      const lines = flags.dryRun ? files.map((file) => `would remove ${file.name} (${formatBytes(file.size)})`) : [];
      const verb = flags.dryRun ? "would free" : "freed";
      const kept = result.kept ? `; kept ${count(result.kept, "blob")} a running writer may use` : "";
      lines.push(`${verb} ${formatBytes(result.bytes)} (${count(files.length, "file")})${kept}`);
      output.result({ ok: true, dryRun: flags.dryRun === true, ...result }, flags.quiet ? [] : lines);
    });
}
