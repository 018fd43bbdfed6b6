/** Adding and removing ref names in `index.json` (`tag`, `rm`); blobs are gc's business. */
import { NotFoundError, UsageError } from "../errors.js";
import { REF_NAME_ANNOTATION, type Descriptor } from "../image/types.js";
import type { ImageLayout } from "./layout.js";
import { isValidRefName, listRefs, refNameOf, resolveRef } from "./refs.js";

export interface RefChange {
  ref: string;
  digest: string;
  /** For `tag`: the digest the name pointed at before, when it was replaced. */
  replaced?: string;
}

/** Throws a usage error naming the first ref that breaks the ref-name grammar. */
export function checkRefNames(refs: readonly string[]): void {
  const bad = refs.find((ref) => !isValidRefName(ref));
  if (bad !== undefined)
    throw new UsageError(`invalid ref name "${bad}": a ref is letters and digits, joined by - . _ : @ + /`);
}

/**
 * Gives the entry `source` names (no name: the only entry) each of `newRefs` too.
 * A name already in use is moved to this entry; that is reported in `replaced`.
 */
export async function addRefNames(
  layout: ImageLayout,
  source: string | undefined,
  newRefs: readonly string[],
): Promise<RefChange[]> {
  checkRefNames(newRefs);
  const changes: RefChange[] = [];
  await layout.updateIndex((index) => {
    const entry = resolveRef(index, source, layout.root);
    let manifests = index.manifests;
    for (const ref of new Set(newRefs)) {
      const previous = manifests.find((existing) => refNameOf(existing) === ref);
      manifests = manifests.filter((existing) => refNameOf(existing) !== ref);
      const named: Descriptor = { ...entry, annotations: { ...entry.annotations, [REF_NAME_ANNOTATION]: ref } };
      manifests.push(named);
      const replaced = previous && previous.digest !== entry.digest ? previous.digest : undefined;
      changes.push({ ref, digest: entry.digest, ...(replaced ? { replaced } : {}) });
    }
    return { ...index, manifests };
  });
  return changes;
}

/** Removes the entries `refs` name; if one is missing nothing changes (REF_UNKNOWN). */
export async function removeRefNames(layout: ImageLayout, refs: readonly string[]): Promise<RefChange[]> {
  const changes: RefChange[] = [];
  await layout.updateIndex((index) => {
    const known = new Set(listRefs(index));
    const missing = refs.filter((ref) => !known.has(ref));
    if (missing.length > 0) {
      const choices = known.size ? `; refs: ${[...known].join(", ")}` : " (it has no refs)";
      throw new NotFoundError(
        "REF_UNKNOWN",
        `no ref ${missing.map((ref) => `"${ref}"`).join(", ")} in layout ${layout.root}: nothing removed${choices}`,
        { where: layout.root },
      );
    }
    const doomed = new Set(refs);
    for (const entry of index.manifests) {
      const ref = refNameOf(entry);
      if (ref !== undefined && doomed.has(ref)) changes.push({ ref, digest: entry.digest });
    }
    return { ...index, manifests: index.manifests.filter((entry) => !doomed.has(refNameOf(entry) ?? "")) };
  });
  return changes;
}
