/**
 * What is measured, and against what. Every candidate of an operation gets the
 * same input; its output directory is emptied (or re-seeded) before each run,
 * untimed.
 */
import { cp, mkdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchImage, BenchRegistry } from "./inputs.js";
import { MEMORY_TARGET, type Candidate, type Operation } from "./measure.js";
import { createOperations } from "./create-operations.js";
import { fetchCandidates } from "./fetch-candidates.js";
import { pushOperations } from "./push-operation.js";
import { wanOperation, type WanSetup } from "./wan.js";
import { bigOperations, type BigImage } from "./big.js";

export const OPERATION_GROUPS = ["fetch", "push", "create", "validate", "unpack", "startup", "wan", "big"] as const;
export type OperationGroup = (typeof OPERATION_GROUPS)[number];

export interface OperationInputs {
  image: BenchImage;
  registry?: BenchRegistry;
  /** Scratch space, removed after the run. */
  work: string;
  /** `node <repo>/bin/oci-image`. */
  ociImage: string[];
  wan?: WanSetup;
  big?: BigImage;
}

let discarded = 0;
/**
 * Moves a previous run's output out of the way instead of deleting it: on a
 * file system mounted with `discard`, deleting 200 MB trees keeps the disk busy
 * trimming during the next timed run. The scratch space is removed at the end.
 */
const empty = (path: string) => async () => {
  const aside = join(dirname(path), ".discarded");
  await mkdir(aside, { recursive: true });
  await rename(path, join(aside, String(++discarded))).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
};
/** What starting Node.js costs: the start-up targets are ratios to it. */
const NODE_BASELINE: Candidate = { name: "node -e 0", role: "baseline", argv: [process.execPath, "-e", "0"] };
const FETCH_FLOOR = fileURLToPath(new URL("./fetch-floor.js", import.meta.url));
const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;

export function buildOperations(groups: OperationGroup[], inputs: OperationInputs): Operation[] {
  const { image, registry, work, ociImage } = inputs;
  const operations: Operation[] = [];
  const out = (name: string) => join(work, name);

  if (groups.includes("fetch") && registry) {
    const forms: { form: "oci" | "v2s2"; title: string }[] = [
      { form: "oci", title: "OCI manifest" },
      { form: "v2s2", title: "Docker schema 2" },
    ];
    for (const { form, title } of forms) {
      const reference = registry.reference(image.size, form);
      operations.push({
        id: `fetch-${form}`,
        group: "fetch",
        title: `fetch into an empty layout (${title})`,
        candidates: [
          ...fetchCandidates({
            ociImage,
            reference,
            ours: out("fetch-ours"),
            theirs: out("fetch-skopeo"),
            tag: "bench",
            prepare: empty,
          }),
          // What Node.js + undici cost before any of our work: the bare download, hashed and fsynced.
          ...(form === "oci"
            ? [
                {
                  name: "bare node + undici (floor)",
                  role: "floor" as const,
                  argv: [process.execPath, FETCH_FLOOR, reference, out("fetch-floor")],
                  prepare: empty(out("fetch-floor")),
                },
              ]
            : []),
        ],
        // On loopback, within a tenth of the bare download (the start-up and the checks).
        targets: form === "oci" ? [{ against: "bare node", atMost: 1.1 }, MEMORY_TARGET] : [MEMORY_TARGET],
      });
    }
    // A layout that already holds every blob: only the manifest and config are looked at.
    const seeded = (dir: string) => async () => {
      await empty(dir)();
      await cp(image.layout, dir, { recursive: true });
    };
    const reference = registry.reference(image.size, "oci");
    operations.push({
      id: "fetch-present",
      group: "fetch",
      title: "fetch into a layout that has the blobs",
      runsFactor: 2,
      candidates: [
        ...fetchCandidates({
          ociImage,
          reference,
          ours: out("fetch-ours"),
          theirs: out("fetch-skopeo"),
          tag: "again",
          prepare: seeded,
        }),
        NODE_BASELINE,
      ],
      targets: [{ against: NODE_BASELINE.name, atMost: 1.6 }],
    });
    const multi = registry.reference(image.size, "multi");
    operations.push({
      id: "fetch-index",
      group: "fetch",
      title: "fetch a 2-platform index, all platforms",
      candidates: [
        ...fetchCandidates({
          ociImage,
          reference: multi,
          ours: out("fetch-ours"),
          theirs: out("fetch-skopeo"),
          tag: "multi",
          prepare: empty,
          all: true,
        }),
      ],
      targets: [MEMORY_TARGET],
    });
  }

  if (groups.includes("push")) operations.push(...pushOperations(inputs));

  if (groups.includes("create")) operations.push(...createOperations({ image, work, ociImage }, empty, runQuiet));

  if (groups.includes("validate")) {
    const hashLayers = image.layers.map((layer) => `gzip -dc ${quote(layer.path)} | sha256sum >/dev/null`).join(" && ");
    operations.push({
      id: "validate",
      group: "validate",
      title: `validate a ${image.layers.length}-layer image`,
      candidates: [
        { name: "oci-image validate", role: "ours", argv: [...ociImage, "validate", `${image.layout}:${image.tag}`] },
        {
          name: "oci-image-tool validate",
          role: "peer",
          argv: ["oci-image-tool", "validate", "--type", "image", "--ref", `name=${image.tag}`, image.layout],
        },
        {
          name: "oci-image-tool + gzip|sha256sum",
          role: "floor",
          argv: [
            "sh",
            "-c",
            `oci-image-tool validate --type image --ref name=${image.tag} ${quote(image.layout)} >/dev/null && ${hashLayers}`,
          ],
        },
      ],
      targets: [MEMORY_TARGET],
    });
  }

  if (groups.includes("unpack")) {
    const floorRootfs = join(out("unpack-tar"), "rootfs");
    const extract = image.layers.map((layer) => `tar -xzf ${quote(layer.path)} -C ${quote(floorRootfs)}`).join(" && ");
    operations.push({
      id: "unpack",
      group: "unpack",
      title: `unpack a ${image.layers.length}-layer image to a bundle`,
      candidates: [
        {
          name: "oci-image unpack",
          role: "ours",
          argv: [...ociImage, "unpack", `${image.layout}:${image.tag}`, out("unpack-ours")],
          prepare: empty(out("unpack-ours")),
        },
        {
          name: "umoci unpack",
          role: "peer",
          argv: [
            "umoci",
            "unpack",
            ...(process.getuid?.() === 0 ? [] : ["--rootless"]),
            "--image",
            `${image.layout}:${image.tag}`,
            out("unpack-umoci"),
          ],
          prepare: empty(out("unpack-umoci")),
        },
        {
          name: "oci-image-tool create",
          role: "peer",
          argv: ["oci-image-tool", "create", "--ref", `name=${image.tag}`, image.layout, out("unpack-oit")],
          prepare: empty(out("unpack-oit")),
        },
        {
          name: "tar -xzf each layer (floor)",
          role: "floor",
          argv: ["sh", "-c", extract],
          prepare: async () => {
            await empty(out("unpack-tar"))();
            await mkdir(floorRootfs, { recursive: true });
          },
        },
      ],
      targets: [{ against: "tar -xzf", atMost: 1.0 }, { against: "umoci", atMost: 1.0 }, MEMORY_TARGET],
    });
  }

  if (groups.includes("wan") && inputs.wan) operations.push(wanOperation(inputs.wan, ociImage, out, empty));
  if (groups.includes("big") && inputs.big)
    operations.push(...bigOperations(inputs.big, registry, ociImage, out, empty));
  if (groups.includes("startup")) {
    const startup = (id: string, title: string, argv: string[], atMost: number): Operation => ({
      id: `startup-${id}`,
      group: "startup",
      title: `start-up: ${title}`,
      runsFactor: 4,
      candidates: [{ name: `oci-image ${title}`, role: "ours", argv: [...ociImage, ...argv] }, NODE_BASELINE],
      targets: [{ against: NODE_BASELINE.name, atMost }],
    });
    operations.push(
      startup("version", "--version", ["--version"], 1.1),
      startup("help", "--help", ["--help"], 1.3),
      startup("validate", "validate <manifest file>", ["validate", "--type", "manifest", image.manifestPath], 1.3),
    );
  }
  return operations;
}

export async function runQuiet(argv: string[]): Promise<void> {
  const { execFile } = await import("node:child_process");
  await new Promise<void>((resolve, reject) =>
    execFile(argv[0]!, argv.slice(1), (error, _stdout, stderr) =>
      error ? reject(new Error(`${argv.join(" ")}: ${stderr || error.message}`)) : resolve(),
    ),
  );
}
