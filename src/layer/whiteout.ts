/**
 * Whiteouts (layer.md): `d/.wh.name` deletes `d/name` of the lower layers,
 * `d/.wh..wh..opq` hides every lower child of `d`. Names that would delete
 * the directory itself or its parent (`.wh..`, `.wh...`, a bare `.wh.`) are
 * refused, as is `.wh.` in a directory component.
 */
import { UnsafeLayerError } from "../errors.js";
import { formatEntryPath } from "./entry-name.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_WHITEOUT = ".wh..wh..opq";
const META_PREFIX = ".wh..wh.";

export type Whiteout =
  | { kind: "none" }
  /** AUFS metadata (`.wh..wh.plnk/…`): not content, skipped. */
  | { kind: "meta" }
  /** Delete `target` (a path under the rootfs) from the lower layers. */
  | { kind: "file"; target: string[] }
  /** Hide the lower layers' children of `directory`. */
  | { kind: "opaque"; directory: string[] };

/** Classifies a cleaned entry path; throws on malformed whiteouts. */
export function parseWhiteout(parts: readonly string[]): Whiteout {
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i]!.startsWith(META_PREFIX)) return { kind: "meta" };
    if (parts[i]!.startsWith(WHITEOUT_PREFIX)) {
      throw new UnsafeLayerError(
        "LAYER_BAD_WHITEOUT",
        `${formatEntryPath(parts)}: a whiteout name can only be the last component of a path`,
        { where: formatEntryPath(parts) },
      );
    }
  }
  const base = parts[parts.length - 1];
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return { kind: "none" };
  const parent = parts.slice(0, -1);
  if (base === OPAQUE_WHITEOUT) return { kind: "opaque", directory: parent };
  if (base.startsWith(META_PREFIX) && base.length > META_PREFIX.length) return { kind: "meta" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === ".." || name.includes("/")) {
    throw new UnsafeLayerError(
      "LAYER_BAD_WHITEOUT",
      `${formatEntryPath(parts)} is not a valid whiteout (it would name "${name}", not a file of the directory)`,
      { where: formatEntryPath(parts) },
    );
  }
  return { kind: "file", target: [...parent, name] };
}
