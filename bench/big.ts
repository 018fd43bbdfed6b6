/**
 * Memory on a large image: one 1 GiB layer of random bytes (plus a few small
 * files), through every command: create from the tree, validate, unpack,
 * push into the bench registry and fetch it back. Peak memory must not grow
 * with the image, so the one target of each is the 128 MiB bound; the times
 * are printed for reference, with no peer (the bench image's rows compare).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BenchRegistry } from "./inputs.js";
import { writeJsonBlob, writeLayer } from "./inputs.js";
import { MEMORY_TARGET, type Operation } from "./measure.js";

/** Bump when the recipe changes, so the input is made again. */
const BIG_RECIPE = "1";
const BIG_FILE_BYTES = 1024 ** 3;

export interface BigImage {
  tree: string;
  layout: string;
  tag: string;
}

/** The tree and its image (tar + gzip -6 by GNU tools), made once into the cache. */
export async function ensureBigImage(cache: string, log: (line: string) => void): Promise<BigImage> {
  const root = join(cache, `big-${BIG_RECIPE}`);
  const tree = join(root, "tree");
  const layout = join(root, "layout");
  if (existsSync(join(layout, "index.json"))) return { tree, layout, tag: "big" };
  log(`making the 1 GiB image in ${root} (once; about a minute)`);
  await rm(root, { recursive: true, force: true });
  await mkdir(join(tree, "data"), { recursive: true });
  await mkdir(join(tree, "etc"), { recursive: true });
  await writeFile(join(tree, "etc", "hostname"), "big\n");
  await writeFile(join(tree, "etc", "motd"), "one large layer\n");
  const file = await open(join(tree, "data", "random.bin"), "w");
  for (let written = 0; written < BIG_FILE_BYTES; written += 2 ** 24) await file.write(randomBytes(2 ** 24));
  await file.close();
  const partial = `${layout}.partial`;
  await mkdir(join(partial, "blobs", "sha256"), { recursive: true });
  const layer = await writeLayer(partial, ["-C", tree, "."]);
  const config = await writeJsonBlob(partial, {
    created: "2025-05-20T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
    history: [{ created: "2025-05-20T00:00:00Z", created_by: "1 GiB of random bytes" }],
  });
  const manifest = await writeJsonBlob(partial, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }],
  });
  await writeFile(join(partial, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const entry = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: manifest.digest,
    size: manifest.size,
    annotations: { "org.opencontainers.image.ref.name": "big" },
  };
  await writeFile(join(partial, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  await rename(partial, layout);
  return { tree, layout, tag: "big" };
}

/** Three runs of each command on the large image (the median peak counts), in an order where each feeds the next. */
export function bigOperations(
  big: BigImage,
  registry: BenchRegistry | undefined,
  ociImage: string[],
  out: (name: string) => string,
  empty: (path: string) => () => Promise<void>,
): Operation[] {
  const once = (id: string, title: string, argv: string[], prepare?: () => Promise<void>): Operation => ({
    id: `big-${id}`,
    group: "big",
    title: `1 GiB layer: ${title}`,
    runs: 3,
    warmup: 0,
    candidates: [{ name: `oci-image ${id}`, role: "ours", argv: [...ociImage, ...argv], prepare }],
    targets: [MEMORY_TARGET],
  });
  const image = `${big.layout}:${big.tag}`;
  const operations = [
    once("create", "create from the tree", ["create", big.tree, `${out("big-create")}:big`], empty(out("big-create"))),
    once("validate", "validate", ["validate", image]),
    once("unpack", "unpack", ["unpack", image, out("big-unpack")], empty(out("big-unpack"))),
  ];
  if (registry) {
    const reference = `${registry.host}/bench/big:1`;
    // A repository that holds the blobs already would make the push skip them.
    const repository = join(registry.dataDir, "docker", "registry", "v2", "repositories", "bench", "big");
    operations.push(
      once("push", "push into an empty repository", ["push", image, reference], () =>
        rm(repository, { recursive: true, force: true }),
      ),
      once("fetch", "fetch", ["fetch", reference, `${out("big-fetch")}:big`], empty(out("big-fetch"))),
    );
  }
  return operations;
}
