/**
 * The create group: a 1-layer image from the tree, and an application
 * directory (the tree's /usr/bin) on the cached Debian image as a base.
 * umoci insert is the peer of both: one directory → one gzip layer, with the
 * config and manifest written again.
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";
import type { BenchImage } from "./inputs.js";
import { MEMORY_TARGET, type Operation } from "./measure.js";
import { zlibFloorSeconds } from "./zlib-floor.js";

type Prepare = (path: string) => () => Promise<void>;
type RunQuiet = (argv: string[]) => Promise<void>;

export function createOperations(
  inputs: { image: BenchImage; work: string; ociImage: string[] },
  empty: Prepare,
  runQuiet: RunQuiet,
): Operation[] {
  const { image, work, ociImage } = inputs;
  const out = (name: string) => join(work, name);
  // Its empty image (init + new) is made untimed.
  const umociLayout = out("create-umoci");
  const fromScratch: Operation = {
    id: "create",
    group: "create",
    title: `create a 1-layer image from the ${image.size} tree`,
    candidates: [
      {
        name: "oci-image create",
        role: "ours",
        argv: [...ociImage, "create", image.rootfs, `${out("create-ours")}:bench`],
        prepare: empty(out("create-ours")),
      },
      {
        name: "umoci insert",
        role: "peer",
        argv: ["umoci", "insert", "--image", `${umociLayout}:bench`, image.rootfs, "/"],
        prepare: async () => {
          await empty(umociLayout)();
          await runQuiet(["umoci", "init", "--layout", umociLayout]);
          await runQuiet(["umoci", "new", "--image", `${umociLayout}:bench`]);
        },
      },
      {
        name: "tar -czf",
        role: "peer",
        argv: ["tar", "-czf", out("create.tar.gz"), "-C", image.rootfs, "."],
        prepare: empty(out("create.tar.gz")),
      },
      {
        name: "zlib level 6 CPU time ÷ cores (floor)",
        role: "floor",
        argv: [],
        measureSeconds: () => zlibFloorSeconds(image.rootfs),
      },
    ],
    targets: [{ against: "zlib level 6", atMost: 1.15 }, MEMORY_TARGET],
  };
  return [fromScratch, onBase(inputs, empty)];
}

/**
 * On the Debian base: ours reads the cached layout (never written) and links
 * its blobs into a new one; umoci insert changes a layout in place, so it gets
 * a copy of the base, made untimed.
 */
function onBase(inputs: { image: BenchImage; work: string; ociImage: string[] }, empty: Prepare): Operation {
  const { image, work, ociImage } = inputs;
  const app = join(image.rootfs, "usr", "bin");
  const ours = join(work, "create-base-ours");
  const umociLayout = join(work, "create-base-umoci");
  return {
    id: "create-base",
    group: "create",
    title: `create on a Debian base (${image.size} image + its /usr/bin as the app directory)`,
    candidates: [
      {
        name: "oci-image create --base",
        role: "ours",
        argv: [...ociImage, "create", "--base", `${image.layout}:${image.tag}`, app, `${ours}:app`],
        prepare: empty(ours),
      },
      {
        name: "umoci insert",
        role: "peer",
        argv: ["umoci", "insert", "--image", `${umociLayout}:${image.tag}`, app, "/"],
        prepare: async () => {
          await empty(umociLayout)();
          await cp(image.layout, umociLayout, { recursive: true });
        },
      },
    ],
    targets: [MEMORY_TARGET],
  };
}
