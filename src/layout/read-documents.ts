/**
 * Typed reads of document blobs: verified (size and digest), strictly parsed,
 * and checked against the image-spec's schema and rules before they are
 * returned as an ImageManifest, ImageIndex or ImageConfig.
 */
import { InvalidContentError, type InvalidContentCode } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import type { BlobStore } from "./blob-store.js";

type Kind = "manifest" | "index" | "config";

const NAMES: Readonly<Record<Kind, { code: InvalidContentCode; what: string }>> = {
  manifest: { code: "MANIFEST_INVALID", what: "image manifest" },
  index: { code: "INDEX_INVALID", what: "image index" },
  config: { code: "CONFIG_INVALID", what: "image config" },
};

/** The blob as a document of `kind`; throws an InvalidContentError naming its first error otherwise. */
export async function readCheckedDocument<T>(
  store: BlobStore,
  descriptor: Pick<Descriptor, "digest" | "size">,
  kind: Kind,
): Promise<T> {
  return checkedDocument<T>(kind, await store.readBlob(descriptor), descriptor.digest);
}

/**
 * A document as bytes, or already parsed (a Docker manifest converted to OCI),
 * checked as a `kind`; `where` (its digest) names it in the error.
 */
export async function checkedDocument<T>(kind: Kind, input: unknown, where: string): Promise<T> {
  // The schemas load on first use: commands that never read a document this way don't pay for them.
  const { checkDocument } = await import("../schema/validate-document.js");
  const checked = await checkDocument(kind, input, { where });
  const errors = checked.problems.filter((problem) => problem.severity === "error");
  const first = errors[0];
  if (first) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more; oci-image validate lists them)` : "";
    const at = first.pointer ? ` at ${first.pointer}` : "";
    throw new InvalidContentError(
      NAMES[kind].code,
      `${where} is not a valid ${NAMES[kind].what}${at}: ${first.message} [${first.rule}]${more}`,
      { where, pointer: first.pointer },
    );
  }
  return checked.value as T;
}
