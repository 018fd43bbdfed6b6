/**
 * The one rule that tells a layout argument from a registry reference (`ls`,
 * `inspect`): `oci:` or `docker://` in front forces a reading; otherwise a path
 * that exists as a directory (after the `:tag` rule) is a layout, and anything
 * else an image reference. Errors name both readings, so a wrong guess shows.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { isOciImageError, UsageError } from "../errors.js";
import { parseLayoutArgument } from "../layout/refs.js";
import { parseReference, type ImageReference } from "../registry/reference.js";

export type Target =
  | { kind: "layout"; path: string; tag?: string; forced: boolean }
  | { kind: "registry"; reference: ImageReference; text: string; forced: boolean };

export async function classifyTarget(argument: string, cwd: string): Promise<Target> {
  if (argument.startsWith("oci:")) return { kind: "layout", ...parseLayoutArgument(argument.slice(4)), forced: true };
  if (argument.startsWith("docker://")) {
    const text = argument.slice("docker://".length);
    return { kind: "registry", reference: parseReference(text), text, forced: true };
  }
  let layout: ReturnType<typeof parseLayoutArgument> | undefined;
  try {
    layout = parseLayoutArgument(argument);
  } catch {
    layout = undefined; // Not a valid <layout>:<tag>: it can only be a reference.
  }
  if (layout && (await isDirectory(resolve(cwd, layout.path)))) return { kind: "layout", ...layout, forced: false };
  try {
    return { kind: "registry", reference: parseReference(argument), text: argument, forced: false };
  } catch (error) {
    const why = (error as Error).message.replace(/^invalid image reference "[^"]*": /, "");
    throw new UsageError(
      `"${argument}" is neither a layout (no directory ${layout?.path ?? argument} exists) ` +
        `nor an image reference (${why})`,
      { where: argument },
    );
  }
}

/**
 * Adds to a failure of the reading that was guessed what the other reading
 * would have been, so that a typo in a directory name is not taken for a
 * registry problem (and the reverse).
 */
export function explainReading(error: unknown, argument: string, target: Target): unknown {
  if (target.forced || !isOciImageError(error) || !READING_CODES.has(error.code)) return error;
  const other =
    target.kind === "registry"
      ? `read as a registry image because no directory ${layoutPathOf(argument)} exists; ` +
        `write oci:${argument} for a layout`
      : `read as a layout because directory ${target.path} exists; write docker://${argument} for a registry image`;
  error.message = `${error.message} (${other})`;
  return error;
}

/** Failures that say the thing is not where the guessed reading looked: the other reading may be meant. */
const READING_CODES = new Set<string>([
  "LAYOUT_MISSING",
  "LAYOUT_INDEX_MISSING",
  "LAYOUT_VERSION",
  "NAME_UNKNOWN",
  "NAME_INVALID",
  "MANIFEST_UNKNOWN",
  "REGISTRY_UNREACHABLE",
  "UNAUTHORIZED",
  "DENIED",
]);

function layoutPathOf(argument: string): string {
  try {
    return parseLayoutArgument(argument).path;
  } catch {
    return argument;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() === true;
}
