/** An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/`. */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidContentError, NotFoundError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { REF_NAME_ANNOTATION, type Descriptor, type ImageIndex } from "../image/types.js";
import { BlobStore, isNotFound } from "./blob-store.js";
import { emptyIndex, readIndexFile, updateIndexFile, writeIndexFile } from "./index-file.js";
import { refNameOf, resolveRef } from "./refs.js";

export const LAYOUT_VERSION = "1.0.0";

export interface AddRefResult {
  /** The entry this one replaced (same ref name), if any. */
  replaced?: Descriptor;
}

export class ImageLayout extends BlobStore {
  private constructor(root: string) {
    super(root);
  }

  /** Opens an existing layout; refuses a directory that is not one. */
  static async open(path: string): Promise<ImageLayout> {
    const root = resolve(path);
    const markerPath = join(root, "oci-layout");
    let bytes: Buffer;
    try {
      bytes = await readFile(markerPath);
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError("LAYOUT_MISSING", `${path} is not an OCI image layout (no oci-layout file)`, { where: markerPath });
      throw error;
    }
    const marker = parseJsonDocument(bytes, markerPath) as { imageLayoutVersion?: unknown };
    if (marker?.imageLayoutVersion !== LAYOUT_VERSION) {
      throw new InvalidContentError("LAYOUT_VERSION", `${markerPath}: imageLayoutVersion is ${JSON.stringify(marker?.imageLayoutVersion)}, this tool reads "${LAYOUT_VERSION}"`, { where: markerPath, pointer: "/imageLayoutVersion" });
    }
    return new ImageLayout(root);
  }

  /** Opens a layout, creating it when the directory is missing or empty. */
  static async openOrCreate(path: string): Promise<ImageLayout> {
    const root = resolve(path);
    await mkdir(root, { recursive: true });
    const entries = await readdir(root);
    if (entries.includes("oci-layout")) return ImageLayout.open(root);
    if (entries.length > 0) {
      throw new InvalidContentError("LAYOUT_MISSING", `${path} is not empty and not an OCI image layout; give an empty or new directory`, { where: root });
    }
    await mkdir(join(root, "blobs", "sha256"), { recursive: true });
    await writeIndexFile(root, emptyIndex());
    // oci-layout last: a layout is a layout once its marker exists.
    await writeFile(join(root, "oci-layout"), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }) + "\n");
    return new ImageLayout(root);
  }

  readIndex(): Promise<ImageIndex> {
    return readIndexFile(this.root);
  }

  updateIndex(change: (index: ImageIndex) => ImageIndex | Promise<ImageIndex>, signal?: AbortSignal): Promise<ImageIndex> {
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
    await this.updateIndex((index) => {
      const kept = index.manifests.filter((existing) => {
        const same = refName !== undefined ? refNameOf(existing) === refName : refNameOf(existing) === undefined && existing.digest === entry.digest;
        if (same) replaced = existing;
        return !same;
      });
      return { ...index, manifests: [...kept, entry] };
    }, signal);
    return { replaced };
  }
}
