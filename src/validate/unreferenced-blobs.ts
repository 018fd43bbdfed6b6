/** Blobs nothing reaches are allowed (image-layout.md), but worth a warning; odd names too. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { digestProblem } from "../image/digest.js";
import type { Report } from "./findings.js";

export async function reportUnreferenced(
  root: string,
  path: string,
  reached: Set<string>,
  report: Report,
): Promise<void> {
  let algorithms: string[];
  try {
    algorithms = await readdir(join(root, "blobs"));
  } catch {
    report(join(path, "blobs"), "", "blobs-missing", `${path} has no blobs directory`, "warning");
    return;
  }
  for (const algorithm of algorithms.sort()) {
    let names: string[];
    try {
      names = await readdir(join(root, "blobs", algorithm));
    } catch {
      const where = join(path, "blobs", algorithm);
      report(where, "", "blob-name-invalid", `blobs/${algorithm} is not a directory of blobs`, "warning");
      continue;
    }
    for (const name of names.sort()) {
      const digest = `${algorithm}:${name}`;
      if (digestProblem(digest)) {
        const where = join(path, "blobs", algorithm, name);
        report(where, "", "blob-name-invalid", `blobs/${algorithm}/${name} is not named by a digest`, "warning");
      } else if (!reached.has(digest)) {
        report(digest, "", "blob-unreferenced", `blob ${digest} is not reachable from index.json`, "warning");
      }
    }
  }
}
