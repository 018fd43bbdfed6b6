/** The two tools every fetch operation compares: `oci-image fetch` and `skopeo copy`, into one layout each. */
import type { Candidate } from "./measure.js";

export interface FetchPair {
  ociImage: string[];
  /** The registry reference fetched. */
  reference: string;
  /** Output layouts, one per tool. */
  ours: string;
  theirs: string;
  /** The ref written into each layout. */
  tag: string;
  /** Makes a layout ready before each run (empties or seeds it). */
  prepare: (dir: string) => () => Promise<void>;
  /** Every platform of an index (`--platform all`, `skopeo copy --all`). */
  all?: boolean;
}

export function fetchCandidates(pair: FetchPair): Candidate[] {
  const { ociImage, reference, ours, theirs, tag, prepare, all } = pair;
  return [
    {
      name: all ? "oci-image fetch --platform all" : "oci-image fetch",
      role: "ours",
      argv: [...ociImage, "fetch", ...(all ? ["--platform", "all"] : []), reference, `${ours}:${tag}`],
      prepare: prepare(ours),
    },
    {
      name: all ? "skopeo copy --all" : "skopeo copy",
      role: "peer",
      argv: [
        "skopeo",
        "copy",
        "--quiet",
        ...(all ? ["--all"] : []),
        "--src-tls-verify=false",
        `docker://${reference}`,
        `oci:${theirs}:${tag}`,
      ],
      prepare: prepare(theirs),
    },
  ];
}
