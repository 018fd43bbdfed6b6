/** Reading a document file without ever holding more than the document cap in memory. */
import { open } from "node:fs/promises";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";

export type DocumentFile = { missing: true } | { missing: false; bytes: Buffer };

/** Reads at most the document cap (+1 byte, to know it is over) from a file. */
export async function readDocumentFile(path: string, limit = MAX_DOCUMENT_SIZE): Promise<DocumentFile> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR")
      return { missing: true };
    throw error;
  }
  try {
    const cap = Math.min(limit, MAX_DOCUMENT_SIZE) + 1;
    const buffer = Buffer.alloc(cap);
    let length = 0;
    while (length < cap) {
      const { bytesRead } = await handle.read(buffer, length, cap - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { missing: false, bytes: buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}
