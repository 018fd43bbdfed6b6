/** `oci-image tag <layout>:<ref> <new-ref>...` and `oci-image rm <layout>:<ref>...`: ref names in index.json. */
import { resolve } from "node:path";
import { Command } from "commander";
import { UsageError } from "../errors.js";
import type { RefChange } from "../layout/tags.js";
import { outputFor, type CommandContext, type OutputFlags } from "./context.js";

export function createTagCommand(context: CommandContext): Command {
  return new Command("tag")
    .description("give an image of a layout more ref names (an existing name is moved to it)")
    .argument(
      "<layout:ref>",
      "the layout and the ref that names the image (the ref may be left out of a one-image layout)",
    )
    .argument("<new-ref...>", "ref names to add, e.g. latest or 1.2")
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors")
    .addHelpText(
      "after",
      `
Examples:
  oci-image tag ./images:alpine alpine-3.20 stable
  oci-image tag ./images:app latest          moves 'latest' from the image it named before`,
    )
    .action(async (source: string, newRefs: string[], flags: OutputFlags) => {
      const output = outputFor(context, flags);
      const { parseLayoutArgument } = await import("../layout/refs.js");
      const { ImageLayout } = await import("../layout/layout.js");
      const { addRefNames } = await import("../layout/tags.js");
      const { path, tag } = parseLayoutArgument(source);
      const layout = await ImageLayout.open(resolve(context.cwd, path));
      const changes = await addRefNames(layout, tag, newRefs);
      output.result({ ok: true, layout: path, tagged: changes }, changes.map(tagLine));
    });
}

function tagLine(change: RefChange): string {
  const moved = change.replaced ? ` (replaced ${change.replaced.slice(0, 19)})` : "";
  return `${change.ref} -> ${change.digest}${moved}`;
}

export function createRmCommand(context: CommandContext): Command {
  return new Command("rm")
    .description("remove refs from a layout's index.json (the blobs stay until gc)")
    .argument("<layout:ref...>", "refs to remove, each as <layout>:<ref>")
    .option("--json", "print the result as one JSON document")
    .option("-q, --quiet", "print nothing but errors")
    .addHelpText(
      "after",
      `
Examples:
  oci-image rm ./images:old ./images:older
  oci-image rm ./images:alpine && oci-image gc ./images

A ref that does not exist fails the command and nothing is removed.`,
    )
    .action(async (targets: string[], flags: OutputFlags) => {
      const output = outputFor(context, flags);
      const { parseLayoutArgument } = await import("../layout/refs.js");
      const { ImageLayout } = await import("../layout/layout.js");
      const { removeRefNames } = await import("../layout/tags.js");
      const byLayout = new Map<string, string[]>();
      for (const target of targets) {
        const { path, tag } = parseLayoutArgument(target);
        if (tag === undefined) throw new UsageError(`"${target}" names no ref: write <layout>:<ref>`);
        const root = resolve(context.cwd, path);
        byLayout.set(root, [...(byLayout.get(root) ?? []), tag]);
      }
      const layouts = await Promise.all([...byLayout.keys()].map((root) => ImageLayout.open(root)));
      const removed: RefChange[] = [];
      for (const layout of layouts) removed.push(...(await removeRefNames(layout, byLayout.get(layout.root)!)));
      output.result(
        { ok: true, removed },
        removed.map((change) => `removed ${change.ref} (${change.digest})`),
      );
    });
}
