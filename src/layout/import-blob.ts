/**
 * A blob of one layout made present in another: hard-linked when both are on
 * the same file system (no bytes copied, the source untouched), else copied
 * through the target's blob store, which checks size and digest on the way.
 */
import { link, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fileSystemErrorOf } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { tempPathIn } from "../util/atomic-write.js";
import { makeDirectory } from "../util/make-directory.js";
import type { BlobStore } from "./blob-store.js";
import { parseDigest } from "../image/digest.js";

/** Errors of link(2) that mean "copy instead": another file system, no hard links there, or not allowed to. */
const CANNOT_LINK = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "EACCES"]);

/** Makes `descriptor`'s blob of `source` present in `target`; true when it was already there. */
export async function importBlob(
  source: BlobStore,
  target: BlobStore,
  descriptor: Pick<Descriptor, "digest" | "size">,
  signal?: AbortSignal,
): Promise<{ existed: boolean; linked: boolean }> {
  if (await target.hasBlob(descriptor.digest, descriptor.size)) return { existed: true, linked: false };
  if (await linkBlob(source, target, descriptor.digest)) return { existed: false, linked: true };
  const stream = await source.openBlob(descriptor);
  await target.putBlob(stream, { expected: { digest: descriptor.digest, size: descriptor.size }, signal });
  return { existed: false, linked: false };
}

/** Hard-links the blob into place through a temp name (rename is atomic); false when it has to be copied. */
async function linkBlob(source: BlobStore, target: BlobStore, digest: string): Promise<boolean> {
  const temp = tempPathIn(target.root);
  try {
    await link(source.blobPath(digest), temp);
  } catch (error) {
    if (CANNOT_LINK.has((error as NodeJS.ErrnoException).code ?? "")) return false;
    throw fileSystemErrorOf(error, source.blobPath(digest)) ?? error;
  }
  try {
    await makeDirectory(join(target.root, "blobs", parseDigest(digest).algorithm));
    await rename(temp, target.blobPath(digest));
    return true;
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw fileSystemErrorOf(error, target.root) ?? error;
  }
}
