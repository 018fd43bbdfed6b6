/**
 * Checks an image in a layout by hand (independently of the code under test):
 * the index entry, every blob's size and digest, the media types, and the
 * diff_id against the decompressed layer.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export interface CheckedImage {
  manifestDigest: string;
  manifest: {
    schemaVersion: number;
    mediaType: string;
    config: Blob;
    layers: Blob[];
    annotations?: Record<string, string>;
  };
  config: {
    architecture: string;
    os: string;
    variant?: string;
    created?: string;
    config?: Record<string, unknown>;
    rootfs: { type: string; diff_ids: string[] };
    history?: unknown[];
  };
  layerTar: Buffer;
}

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

async function readBlob(layout: string, descriptor: Blob): Promise<Buffer> {
  const [algorithm, encoded] = descriptor.digest.split(":");
  assert.equal(algorithm, "sha256");
  const path = join(layout, "blobs", "sha256", encoded!);
  assert.equal((await stat(path)).size, descriptor.size, `size of ${descriptor.digest}`);
  const bytes = await readFile(path);
  assert.equal(
    `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    descriptor.digest,
    `digest of ${descriptor.digest}`,
  );
  return bytes;
}

export async function checkImage(layout: string, tag: string): Promise<CheckedImage> {
  assert.deepEqual(JSON.parse(await readFile(join(layout, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: (Blob & { annotations?: Record<string, string> })[];
  };
  const entries = index.manifests.filter((entry) => entry.annotations?.["org.opencontainers.image.ref.name"] === tag);
  assert.equal(entries.length, 1, `one index entry named ${tag}`);
  const entry = entries[0]!;
  assert.equal(entry.mediaType, "application/vnd.oci.image.manifest.v1+json");
  const manifest = JSON.parse((await readBlob(layout, entry)).toString()) as CheckedImage["manifest"];
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(manifest.config.mediaType, "application/vnd.oci.image.config.v1+json");
  const config = JSON.parse((await readBlob(layout, manifest.config)).toString()) as CheckedImage["config"];
  assert.equal(manifest.layers.length, 1);
  assert.equal(config.rootfs.type, "layers");
  assert.equal(config.rootfs.diff_ids.length, 1);
  const layer = manifest.layers[0]!;
  const blob = await readBlob(layout, layer);
  let tar: Buffer;
  if (layer.mediaType === "application/vnd.oci.image.layer.v1.tar+gzip") tar = gunzipSync(blob);
  else if (layer.mediaType === "application/vnd.oci.image.layer.v1.tar+zstd")
    tar = execFileSync("zstd", ["-dc"], { input: blob, maxBuffer: 1 << 30 });
  else if (layer.mediaType === "application/vnd.oci.image.layer.v1.tar") tar = blob;
  else throw new assert.AssertionError({ message: `unexpected layer media type ${layer.mediaType}` });
  assert.equal(
    `sha256:${createHash("sha256").update(tar).digest("hex")}`,
    config.rootfs.diff_ids[0],
    "diff_id is the sha256 of the uncompressed tar",
  );
  return { manifestDigest: entry.digest, manifest, config, layerTar: tar };
}

/** Every file under the layout, with its bytes' digest: to show a failed command changed nothing. */
export async function snapshotLayout(layout: string): Promise<Record<string, string>> {
  const { readdir } = await import("node:fs/promises");
  const result: Record<string, string> = {};
  let entries;
  try {
    entries = await readdir(layout, { recursive: true, withFileTypes: true });
  } catch {
    return { "<absent>": "" };
  }
  for (const entry of entries) {
    const parent =
      (entry as unknown as { parentPath?: string; path: string }).parentPath ??
      (entry as unknown as { path: string }).path;
    const path = join(parent, entry.name);
    result[path.slice(layout.length)] = entry.isFile()
      ? createHash("sha256")
          .update(await readFile(path))
          .digest("hex")
      : "dir";
  }
  return result;
}

/**
 * For layers too big to hold: streams the blob through `gzip -dc`, hashes the
 * tar against the diff_id and lists its entries (name, size, last 8 bytes).
 */
export async function checkImageStreaming(
  layout: string,
  tag: string,
): Promise<{ entries: { name: string; size: number; tail: string }[] }> {
  const { spawn } = await import("node:child_process");
  const { extract } = await import("tar-stream");
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: (Blob & { annotations?: Record<string, string> })[];
  };
  const entry = index.manifests.find((item) => item.annotations?.["org.opencontainers.image.ref.name"] === tag)!;
  const manifest = JSON.parse((await readBlob(layout, entry)).toString()) as CheckedImage["manifest"];
  const config = JSON.parse((await readBlob(layout, manifest.config)).toString()) as CheckedImage["config"];
  const layer = manifest.layers[0]!;
  assert.equal(layer.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  const path = join(layout, "blobs", "sha256", layer.digest.slice(7));
  assert.equal((await stat(path)).size, layer.size);
  const blobHash = createHash("sha256");
  const { createReadStream } = await import("node:fs");
  for await (const chunk of createReadStream(path)) blobHash.update(chunk as Buffer);
  assert.equal(`sha256:${blobHash.digest("hex")}`, layer.digest);
  const gzip = spawn("gzip", ["-dc", path], { stdio: ["ignore", "pipe", "inherit"] });
  const tarHash = createHash("sha256");
  const entries: { name: string; size: number; tail: string }[] = [];
  const parser = extract();
  parser.on("entry", (header, stream, next) => {
    let size = 0;
    let tail = Buffer.alloc(0);
    stream.on("data", (data: unknown) => {
      const chunk = data as Buffer;
      size += chunk.length;
      tail = Buffer.concat([tail, chunk.subarray(-8)]).subarray(-8);
    });
    stream.on("end", () => {
      entries.push({ name: header.name, size, tail: tail.toString() });
      next();
    });
  });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on("finish", resolve);
    parser.on("error", reject);
  });
  gzip.stdout.on("data", (chunk: Buffer) => {
    tarHash.update(chunk);
    if (!parser.write(chunk)) {
      gzip.stdout.pause();
      parser.once("drain", () => gzip.stdout.resume());
    }
  });
  const exited = new Promise<number | null>((resolve) => gzip.on("close", resolve));
  gzip.stdout.on("end", () => (parser as unknown as { end(): void }).end());
  assert.equal(await exited, 0, "gzip -dc reads the layer");
  await parsed;
  assert.equal(`sha256:${tarHash.digest("hex")}`, config.rootfs.diff_ids[0]);
  return { entries };
}
