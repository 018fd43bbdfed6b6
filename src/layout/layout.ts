/** An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/`. */
import { readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidContentError, NotFoundError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { makeDirectory } from "../util/make-directory.js";
import {
  REF_NAME_ANNOTATION,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from "../image/types.js";
import { BlobStore, TEMP_PREFIX } from "./blob-store.js";
import { emptyIndex, readIndexFile, updateIndexFile } from "./index-file.js";
import { findReachable } from "./reachable.js";
import { readDocumentFile } from "./read-document-file.js";
import { readCheckedDocument } from "./read-documents.js";
import { refNameOf, resolveRef } from "./refs.js";
import { WRITER_PREFIX } from "./writers.js";

export const LAYOUT_VERSION = "1.0.0";

export interface AddRefResult {
  /** The entry this one replaced (same ref name), if any. */
  replaced?: Descriptor;
  /** The same entry was there already: index.json was left as it was. */
  unchanged?: boolean;
}

/** What a layout being created holds before its `oci-layout` marker is written. */
function isLayoutPart(name: string): boolean {
  return (
    name === "blobs" ||
    name === "index.json" ||
    name === "index.json.lock" ||
    name.startsWith(TEMP_PREFIX) ||
    name.startsWith(WRITER_PREFIX)
  );
}

async function writeIndexFileIfMissing(root: string): Promise<void> {
  try {
    await writeFile(join(root, "index.json"), JSON.stringify(emptyIndex(), null, 2) + "\n", {
      flag: "wx",
      mode: 0o644,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

export class ImageLayout extends BlobStore {
  private constructor(root: string) {
    super(root);
  }

  /** Opens an existing layout; refuses a directory that is not one. */
  static async open(path: string): Promise<ImageLayout> {
    const root = resolve(path);
    const markerPath = join(root, "oci-layout");
    const file = await readDocumentFile(markerPath);
    if (file.missing)
      throw new NotFoundError("LAYOUT_MISSING", `${path} is not an OCI image layout (no oci-layout file)`, {
        where: markerPath,
      });
    const marker = parseJsonDocument(file.bytes, markerPath) as { imageLayoutVersion?: unknown };
    if (marker?.imageLayoutVersion !== LAYOUT_VERSION) {
      const found = JSON.stringify(marker?.imageLayoutVersion);
      throw new InvalidContentError(
        "LAYOUT_VERSION",
        `${markerPath}: imageLayoutVersion is ${found}, this tool reads "${LAYOUT_VERSION}"`,
        { where: markerPath, pointer: "/imageLayoutVersion" },
      );
    }
    return new ImageLayout(root);
  }

  /**
   * Opens a layout, creating it when the directory is missing or empty. Safe
   * when several processes create the same layout at once: each step is
   * idempotent, and a directory holding only a layout's parts (another process
   * is half-way through creating it) counts as empty.
   */
  static async openOrCreate(path: string): Promise<ImageLayout> {
    const root = resolve(path);
    await makeDirectory(root);
    const entries = await readdir(root);
    if (entries.includes("oci-layout")) return ImageLayout.open(root);
    if (!entries.every(isLayoutPart)) {
      throw new InvalidContentError(
        "LAYOUT_MISSING",
        `${path} is not empty and not an OCI image layout; give an empty or new directory`,
        { where: root },
      );
    }
    await makeDirectory(join(root, "blobs", "sha256"));
    if (!entries.includes("index.json")) await writeIndexFileIfMissing(root);
    // oci-layout last: a layout is a layout once its marker exists.
    await writeFileAtomic(join(root, "oci-layout"), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }) + "\n");
    return new ImageLayout(root);
  }

  /**
   * Without a descriptor: the layout's `index.json` (read strictly; its full
   * check is validate's job). With one: that index blob, verified and checked
   * against the image-spec before it is returned.
   */
  readIndex(descriptor?: Pick<Descriptor, "digest" | "size">): Promise<ImageIndex> {
    if (descriptor) return readCheckedDocument<ImageIndex>(this, descriptor, "index");
    return readIndexFile(this.root);
  }

  /** An image manifest blob, verified and checked against the image-spec (MANIFEST_INVALID otherwise). */
  readManifest(descriptor: Pick<Descriptor, "digest" | "size">): Promise<ImageManifest> {
    return readCheckedDocument<ImageManifest>(this, descriptor, "manifest");
  }

  /** An image config blob, verified and checked against the image-spec (CONFIG_INVALID otherwise). */
  readConfig(descriptor: Pick<Descriptor, "digest" | "size">): Promise<ImageConfig> {
    return readCheckedDocument<ImageConfig>(this, descriptor, "config");
  }

  /**
   * Changes index.json under its lock, atomically. `change` returns a new index
   * to write, or the very index it was given to leave the file as it is.
   */
  updateIndex(
    change: (index: ImageIndex) => ImageIndex | Promise<ImageIndex>,
    signal?: AbortSignal,
  ): Promise<ImageIndex> {
    return updateIndexFile(this.root, change, signal);
  }

  /** The index entry for `tag` (or the only entry when no tag is given). */
  async resolveRef(tag: string | undefined): Promise<Descriptor> {
    return resolveRef(await this.readIndex(), tag, this.root);
  }

  /**
   * Adds `descriptor` to index.json under `refName` (none: an untagged entry),
   * replacing any entry of the same ref name, in one atomic update.
   */
  async addRef(descriptor: Descriptor, refName: string | undefined, signal?: AbortSignal): Promise<AddRefResult> {
    const entry: Descriptor = { ...descriptor };
    if (refName !== undefined) entry.annotations = { ...descriptor.annotations, [REF_NAME_ANNOTATION]: refName };
    let replaced: Descriptor | undefined;
    let unchanged = false;
    await this.updateIndex(async (index) => {
      // Under the lock gc cannot run: what is here now stays, and what is missing is said now.
      await this.checkComplete(descriptor);
      const kept = index.manifests.filter((existing) => {
        const same =
          refName !== undefined
            ? refNameOf(existing) === refName
            : refNameOf(existing) === undefined && existing.digest === entry.digest;
        if (same) replaced = existing;
        return !same;
      });
      if (kept.length === index.manifests.length - 1 && replaced && canonicalJson(replaced) === canonicalJson(entry)) {
        // Fetching or building the same image again: nothing to write.
        unchanged = true;
        replaced = undefined;
        return index;
      }
      return { ...index, manifests: [...kept, entry] };
    }, signal);
    return unchanged ? { unchanged } : { replaced };
  }

  /** Throws BLOB_UNKNOWN unless every blob `descriptor` reaches is stored. */
  private async checkComplete(descriptor: Descriptor): Promise<void> {
    const { missing } = await findReachable(this, [descriptor], { skipUnreadable: true });
    if (missing.length === 0) return;
    const first = missing[0]!;
    throw new NotFoundError(
      "BLOB_UNKNOWN",
      `cannot name ${descriptor.digest} in ${this.root}/index.json: blob ${first.digest} ` +
        `(${first.mediaType}) is not in the layout${missing.length > 1 ? ` (nor ${missing.length - 1} more)` : ""}`,
      { where: first.digest },
    );
  }
}

/** JSON with every object's keys sorted: equal for equal descriptors whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === "object" && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
