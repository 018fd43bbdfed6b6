/** Reading a document file without ever holding more than the document cap in memory. */
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { fileSystemErrorOf, notRegularFileError } from "../errors.js";
import { MAX_DOCUMENT_SIZE } from "../image/json.js";

export type DocumentFile = { missing: true } | { missing: false; bytes: Buffer };

/**
 * Reads at most the document cap (+1 byte, to know it is over) from a regular
 * file. A missing file is `missing`; a pipe, socket or device is refused
 * without a byte read (opened non-blocking, so a FIFO with no writer can't
 * hang it); any other system error is thrown as a FileSystemError naming `path`.
 */
export async function readDocumentFile(path: string, limit = MAX_DOCUMENT_SIZE): Promise<DocumentFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true };
    throw fileSystemErrorOf(error, path) ?? error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegularFileError(path, info.isDirectory());
    const cap = Math.min(limit, MAX_DOCUMENT_SIZE) + 1;
    const buffer = Buffer.alloc(cap);
    let length = 0;
    while (length < cap) {
      const { bytesRead } = await handle.read(buffer, length, cap - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { missing: false, bytes: buffer.subarray(0, length) };
  } catch (error) {
    throw fileSystemErrorOf(error, path) ?? error;
  } finally {
    await handle.close();
  }
}
