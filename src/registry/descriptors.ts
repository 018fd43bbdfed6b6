/** Descriptors read from a fetched document, checked before any digest reaches a URL or a path. */
import { InvalidContentError } from "../errors.js";
import { digestProblem, isRegisteredAlgorithm } from "../image/digest.js";
import type { Descriptor } from "../image/types.js";

/** The descriptors of a fetched document, checked before any digest reaches a URL or a path. */
export function checkDescriptors(value: unknown, pointer: string, where: string): Descriptor[] {
  const list = value;
  if (!Array.isArray(list))
    throw new InvalidContentError("MANIFEST_INVALID", `${where}: ${pointer} is not an array`, { where, pointer });
  return list.map((item, i) => {
    const at = pointer === "/config" ? pointer : `${pointer}/${i}`;
    const bad = (why: string) =>
      new InvalidContentError("DESCRIPTOR_INVALID", `${where}: ${at}: ${why}`, { where, pointer: at });
    if (typeof item !== "object" || item === null) throw bad("not a descriptor object");
    const d = item as Record<string, unknown>;
    if (typeof d.mediaType !== "string" || !d.mediaType) throw bad("mediaType is missing");
    const problem = digestProblem(d.digest);
    if (problem) throw bad(problem);
    if (!isRegisteredAlgorithm(d.digest as string))
      throw bad(`digest algorithm of ${String(d.digest).slice(0, 80)} is not supported`);
    if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
      throw bad(`size ${JSON.stringify(d.size)} is not a whole number of bytes`);
    return d as unknown as Descriptor;
  });
}
