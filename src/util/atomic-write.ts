/** Writing a file so that readers see the old content or the new, never a part: temp file, fsync, rename. */
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Prefix of temp files; anything with it is an interrupted write. */
export const TEMP_PREFIX = ".oci-image-tmp-";

/** A new temp file's path in `directory` (the same file system as its final place, so rename is atomic). */
export function tempPathIn(directory: string): string {
  return join(directory, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
}

/**
 * Writes `data` to a temp file beside `path`, fsyncs it and renames it over
 * `path`. A crash leaves `path` as it was (and at worst a temp file behind).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temp = tempPathIn(dirname(path));
  try {
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
