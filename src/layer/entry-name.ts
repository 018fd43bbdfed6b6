/**
 * Entry names of a layer tar, cleaned into path components relative to the
 * rootfs before any I/O: a leading `/` and `..` that would climb above the
 * root are dropped (a layer can only ever name something under the rootfs).
 */
import { UnsafeLayerError, type UnsafeLayerCode } from "../errors.js";

/** Longest entry name or link target accepted, in bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

export interface NameProblem {
  code: UnsafeLayerCode;
  /** validate's rule name. */
  rule: string;
  message: string;
}

/** What every name (entry or link target) must be: at most 4096 bytes, as the kernel counts them, and no NUL. */
export function nameProblemOf(name: string, what = "entry"): NameProblem | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_PATH_BYTES)
    return {
      code: "LAYER_PATH_TOO_LONG",
      rule: "layer-path-too-long",
      message: `${what} name is ${bytes} bytes, over the ${MAX_PATH_BYTES}-byte limit: ${printable(name.slice(0, 80))}…`,
    };
  if (name.includes("\0"))
    return {
      code: "LAYER_PATH_INVALID",
      rule: "layer-path-unsafe",
      message: `${what} name "${printable(name)}" has a NUL byte`,
    };
  return undefined;
}

/** Splits and cleans a tar name: no empty, `.` or `..` components remain. */
export function cleanEntryPath(name: string, what = "entry"): string[] {
  const problem = nameProblemOf(name, what);
  if (problem) throw new UnsafeLayerError(problem.code, problem.message);
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

/** A name for a message: control characters shown as ?, long ones cut. */
export function printable(text: string): string {
  const shown = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return shown.length > 200 ? `${shown.slice(0, 197)}...` : shown;
}
