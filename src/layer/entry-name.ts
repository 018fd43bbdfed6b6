/**
 * Entry names of a layer tar, cleaned into path components relative to the
 * rootfs before any I/O: a leading `/` and `..` that would climb above the
 * root are dropped (a layer can only ever name something under the rootfs).
 */
import { UnsafeLayerError } from "../errors.js";

/** Longest entry name or link target accepted, in bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

/** Splits and cleans a tar name: no empty, `.` or `..` components remain. */
export function cleanEntryPath(name: string, what = "entry"): string[] {
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) {
    throw new UnsafeLayerError(
      "LAYER_PATH_TOO_LONG",
      `${what} name is ${Buffer.byteLength(name)} bytes, over the ${MAX_PATH_BYTES}-byte limit: ${name.slice(0, 80)}…`,
    );
  }
  if (name.includes("\0"))
    throw new UnsafeLayerError("LAYER_PATH_INVALID", `${what} name contains a NUL byte: ${JSON.stringify(name)}`);
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts;
}

export function formatEntryPath(parts: readonly string[]): string {
  return `/${parts.join("/")}`;
}
