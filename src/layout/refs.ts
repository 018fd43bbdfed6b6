/** Ref names (annotations.md) and the `<layout>[:<tag>]` argument form. */
import { NotFoundError, UsageError } from "../errors.js";
import { isValidRefName } from "../image/ref-name.js";
import { REF_NAME_ANNOTATION, type Descriptor, type ImageIndex } from "../image/types.js";

// The grammar lives in image/ so the schema rules can use it too.
export { isValidRefName };

export interface LayoutArgument {
  path: string;
  tag?: string;
}

/**
 * Splits `<layout>[:<tag>]`: the tag is what follows the last `:` when that text
 * has no `/`; a trailing `:` means "no tag" (for paths that end in `:x`).
 */
export function parseLayoutArgument(argument: string): LayoutArgument {
  const colon = argument.lastIndexOf(":");
  if (colon <= 0) return { path: argument };
  const tail = argument.slice(colon + 1);
  if (tail.includes("/")) return { path: argument };
  const path = argument.slice(0, colon);
  if (tail === "") return { path };
  if (!isValidRefName(tail)) {
    throw new UsageError(`invalid tag "${tail}" in "${argument}": a tag is letters and digits, joined by - . _ : @ +`);
  }
  return { path, tag: tail };
}

export function refNameOf(descriptor: Descriptor): string | undefined {
  return descriptor.annotations?.[REF_NAME_ANNOTATION];
}

/** Every ref name in an index, in order. */
export function listRefs(index: ImageIndex): string[] {
  return index.manifests.map(refNameOf).filter((name): name is string => name !== undefined);
}

/**
 * The index entry a ref names. Without a tag the layout must hold exactly one
 * entry; otherwise the error lists the refs to choose from.
 */
export function resolveRef(index: ImageIndex, tag: string | undefined, layoutPath: string): Descriptor {
  const refs = listRefs(index);
  const choices = refs.length ? `; refs: ${refs.join(", ")}` : "";
  if (tag === undefined) {
    if (index.manifests.length === 1) return index.manifests[0]!;
    if (index.manifests.length === 0)
      throw new NotFoundError("REF_UNKNOWN", `layout ${layoutPath} holds no images`, { where: layoutPath });
    throw new UsageError(
      `layout ${layoutPath} holds ${index.manifests.length} images: name one as ${layoutPath}:<tag>${choices}`,
      { where: layoutPath },
    );
  }
  const matches = index.manifests.filter((entry) => refNameOf(entry) === tag);
  if (matches.length === 0) {
    throw new NotFoundError("REF_UNKNOWN", `no ref "${tag}" in layout ${layoutPath}${choices || " (it has no refs)"}`, {
      where: layoutPath,
    });
  }
  return matches[matches.length - 1]!;
}
