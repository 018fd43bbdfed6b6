/** `oci-image ls <layout> | <registry>/<repository>`: a layout's entries, or a repository's tags. */
import { resolve } from "node:path";
import { Command } from "commander";
import type { LayoutEntry } from "../layout/list-entries.js";
import type { Target } from "../transfer/layout-or-reference.js";
import { formatBytes } from "../ui/format.js";
import { outputFor, type CommandContext, type OutputFlags } from "./context.js";
import { addRegistryOptions, connectionFrom, type RegistryFlags } from "./registry-flags.js";

type LsFlags = OutputFlags & RegistryFlags;

export function createLsCommand(context: CommandContext): Command {
  const command = new Command("ls")
    .description("list a layout's images (one row per index.json entry), or a registry repository's tags")
    .argument("<layout|repository>", "a layout directory, or <registry>/<repository>; oci: or docker:// forces one")
    .option("--json", "print one JSON array")
    .option("-q, --quiet", "print only digests (a layout) or tags (a repository), one a line");
  return addRegistryOptions(command)
    .addHelpText(
      "after",
      `
Examples:
  oci-image ls ./images
  oci-image ls -q ./images | xargs -n1 ...
  oci-image ls localhost:5000/team/app        every tag, all pages
  oci-image ls docker://images                a repository even if ./images exists

A directory that exists is a layout; anything else a registry repository.`,
    )
    .action(async (argument: string, flags: LsFlags) => {
      const { classifyTarget, explainReading } = await import("../transfer/layout-or-reference.js");
      const target = await classifyTarget(argument, context.cwd);
      try {
        await (target.kind === "layout" ? listLayout(context, target, flags) : listRepository(context, target, flags));
      } catch (error) {
        throw explainReading(error, argument, target);
      }
    });
}

async function listLayout(context: CommandContext, target: Target & { kind: "layout" }, flags: LsFlags) {
  const { ImageLayout } = await import("../layout/layout.js");
  const { listEntries } = await import("../layout/list-entries.js");
  const layout = await ImageLayout.open(resolve(context.cwd, target.path));
  const entries = await listEntries(layout);
  // A damaged entry is listed, but the listing is not a success a script should trust.
  if (entries.some((entry) => entry.problem)) context.exitCode = 1;
  const output = outputFor(context, flags);
  for (const entry of entries) if (entry.problem) output.warn(`${entry.ref ?? entry.digest}: ${entry.problem}`);
  if (flags.json) return output.result(entries);
  const lines = flags.quiet ? entries.map((entry) => entry.digest) : table(entries);
  for (const line of lines) context.stdout.write(`${line}\n`);
}

async function listRepository(context: CommandContext, target: Target & { kind: "registry" }, flags: LsFlags) {
  const { RegistryClient } = await import("../registry/client.js");
  const { listTags } = await import("../registry/list-tags.js");
  const { withHint } = await import("./registry-flags.js");
  const { registry } = target.reference;
  const warn = (message: string) => outputFor(context, flags).warn(message);
  const connection = await connectionFrom(flags, context, registry, warn);
  const client = new RegistryClient({ ...connection, registry, signal: context.signal });
  try {
    const tags = await listTags(client, target.reference.repository);
    if (flags.json) return outputFor(context, flags).result(tags);
    for (const tag of tags) context.stdout.write(`${tag}\n`);
  } catch (error) {
    throw await withHint(error);
  } finally {
    await client.close();
  }
}

const HEADINGS = ["REF", "DIGEST", "KIND", "PLATFORM", "SIZE", "CREATED", "SOURCE"];

/** Aligned columns; the last one is not padded. */
function table(entries: LayoutEntry[]): string[] {
  const rows = entries.map((entry) => [
    entry.ref ?? "<none>",
    shortDigest(entry.digest),
    entry.kind,
    entry.platforms.join(",") || "-",
    formatBytes(entry.size),
    entry.created ?? "-",
    entry.source ?? "-",
  ]);
  const all = [HEADINGS, ...rows];
  const widths = HEADINGS.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  return all.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd(),
  );
}

/** `sha256:0123456789ab`: the algorithm and the first 12 hex digits, as other tools show it. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return digest.slice(0, colon + 13);
}
