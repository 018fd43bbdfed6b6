/**
 * Layouts for the validate tests: a source image built in code, layouts that
 * skopeo and umoci write themselves, and small surgical breakages of a layout
 * (each keeps everything else consistent, so exactly one rule should fire).
 */
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from "../../src/image/types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { runProgram } from "../helpers/cli.js";
import { compress, writeTestImage, type TarEntry } from "../helpers/image-builder.js";

/** An image of two gzip layers (a directory, files, a symlink, a hard link) under `tag`. */
export async function buildSourceImage(dir: string, tag = "src"): Promise<void> {
  await writeTestImage(dir, {
    tag,
    layers: [
      [
        { name: "etc/", type: "directory" },
        { name: "etc/hostname", content: "box\n" },
        { name: "bin/", type: "directory" },
        { name: "bin/tool", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        { name: "bin/alias", type: "symlink", linkname: "tool" },
      ],
      [
        { name: "./etc/motd", content: "hello\n" },
        { name: "bin/tool2", type: "link", linkname: "bin/tool" },
      ],
    ],
    config: { config: { Env: ["PATH=/bin"], Cmd: ["/bin/tool"], ExposedPorts: { "8080/tcp": {} } } },
  });
}

async function run(program: string, args: string[]): Promise<void> {
  const result = await runProgram(program, args, { timeoutMs: 120_000 });
  if (result.status !== 0) throw new Error(`${program} ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
}

/** skopeo writes its own layout from ours. */
export async function copyWithSkopeo(skopeo: string, from: string, to: string): Promise<void> {
  await run(skopeo, ["--insecure-policy", "copy", "--quiet", `oci:${from}`, `oci:${to}`]);
}

/** umoci builds an image in its own layout: new, unpack, add files, repack, configure; the empty base ref is removed. */
export async function buildWithUmoci(umoci: string, layout: string, bundle: string): Promise<void> {
  await run(umoci, ["init", "--layout", layout]);
  await run(umoci, ["new", "--image", `${layout}:base`]);
  await run(umoci, ["unpack", "--rootless", "--image", `${layout}:base`, bundle]);
  await writeFile(join(bundle, "rootfs", "hello.txt"), "hello from umoci\n");
  await writeFile(join(bundle, "rootfs", "data.bin"), Buffer.alloc(100_000, 7));
  await run(umoci, ["repack", "--image", `${layout}:img`, bundle]);
  await run(umoci, [
    "config",
    "--image",
    `${layout}:img`,
    "--config.env",
    "A=B",
    "--config.cmd",
    "/bin/sh",
    "--tag",
    "img",
  ]);
  await run(umoci, ["rm", "--image", `${layout}:base`]);
  await run(umoci, ["gc", "--layout", layout]);
}

export async function copyLayout(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}

export function blobPath(dir: string, digest: string): string {
  const [algorithm, encoded] = digest.split(":");
  return join(dir, "blobs", algorithm!, encoded!);
}

export async function readIndex(dir: string): Promise<ImageIndex> {
  return JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as ImageIndex;
}

export async function writeIndex(dir: string, index: ImageIndex | string | Buffer): Promise<void> {
  await writeFile(
    join(dir, "index.json"),
    typeof index === "string" || Buffer.isBuffer(index) ? index : JSON.stringify(index),
  );
}

async function readJsonBlob<T>(dir: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(blobPath(dir, digest), "utf8")) as T;
}

/** Stores raw bytes as a blob (not checked: tests store broken documents on purpose). */
export async function storeBlob(dir: string, bytes: Buffer | string, mediaType: string): Promise<Descriptor> {
  const data = Buffer.from(bytes);
  const layout = await ImageLayout.open(dir);
  const stored = await layout.putBlobBytes(data);
  return { mediaType, digest: stored.digest, size: stored.size };
}

export interface ImageParts {
  entry: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
}

/** The first index entry's manifest and config. */
export async function readImage(dir: string): Promise<ImageParts> {
  const entry = (await readIndex(dir)).manifests[0]!;
  const manifest = await readJsonBlob<ImageManifest>(dir, entry.digest);
  const config = await readJsonBlob<ImageConfig>(dir, manifest.config.digest);
  return { entry, manifest, config };
}

/** Points the first index entry at a new manifest (bytes as given, or the JSON of the value). */
export async function replaceManifest(dir: string, manifest: ImageManifest | string): Promise<Descriptor> {
  const index = await readIndex(dir);
  const descriptor = await storeBlob(
    dir,
    typeof manifest === "string" ? manifest : JSON.stringify(manifest),
    index.manifests[0]!.mediaType,
  );
  index.manifests[0] = { ...index.manifests[0]!, digest: descriptor.digest, size: descriptor.size };
  await writeIndex(dir, index);
  return descriptor;
}

/** A new config for the first image (and so a new manifest and index entry); returns the config's descriptor. */
export async function replaceConfig(dir: string, change: (config: ImageConfig) => ImageConfig): Promise<Descriptor> {
  const { manifest, config } = await readImage(dir);
  const descriptor = await storeBlob(dir, JSON.stringify(change(config)), manifest.config.mediaType);
  await replaceManifest(dir, { ...manifest, config: descriptor });
  return descriptor;
}

/** Replaces layer `i` of the first image by this tar (gzip), with a matching diff_id; returns the new layer descriptor. */
export async function replaceLayer(dir: string, i: number, tar: Buffer): Promise<Descriptor> {
  const { manifest, config } = await readImage(dir);
  const layer = await storeBlob(dir, await compress(tar, "gzip"), MediaType.ociLayerGzip);
  const diffIds = [...config.rootfs.diff_ids];
  diffIds[i] = digestOf(tar);
  const configDescriptor = await storeBlob(
    dir,
    JSON.stringify({ ...config, rootfs: { ...config.rootfs, diff_ids: diffIds } }),
    manifest.config.mediaType,
  );
  const layers = [...manifest.layers];
  layers[i] = layer;
  await replaceManifest(dir, { ...manifest, config: configDescriptor, layers });
  return layer;
}

export type { TarEntry };
