/**
 * Builds test images in code: tars from entry lists (tar-stream), compressed,
 * stored with their config and manifest in a layout under a ref. Hostile-input
 * tests use it to make exactly the bad tar or document they need.
 */
import { gzipSync } from "node:zlib";
import { pack, type Header } from "tar-stream";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from "../../src/image/types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { createCompressor } from "../../src/layer/codecs.js";

export type TarEntry = Partial<Header> & { name: string; content?: string | Buffer };

/** A tar of these entries, in this order (no sorting, no checks: tests want the raw thing). */
export async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    tar.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    tar.on("end", () => resolve(Buffer.concat(chunks)));
    tar.on("error", reject);
  });
  for (const { content, ...header } of entries) {
    const type = header.type ?? "file";
    const full = {
      mode: type === "directory" ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(1_700_000_000_000),
      ...header,
      type,
    };
    const body = type === "file" ? Buffer.from(content ?? "") : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => tar.entry(full, body, (error) => (error ? reject(error) : resolve())));
  }
  tar.finalize();
  return done;
}

export type Compression = "gzip" | "zstd" | "none";

export async function compress(tar: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === "gzip") return gzipSync(tar);
  if (compression === "none") return tar;
  const compressor = createCompressor("zstd");
  const chunks: Buffer[] = [];
  compressor.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve, reject) => {
    compressor.on("end", resolve);
    compressor.on("error", reject);
  });
  compressor.end(tar);
  await ended;
  return Buffer.concat(chunks);
}

const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
  none: MediaType.ociLayer,
};

export interface TestImageOptions {
  /** Each layer as entries (built here) or as a ready tar. */
  layers: (TarEntry[] | Buffer)[];
  compression?: Compression;
  /** Merged over a default linux/amd64 config; `rootfs` is computed unless given. */
  config?: Partial<ImageConfig>;
  tag?: string;
  annotations?: Record<string, string>;
}

export interface TestImage {
  layout: ImageLayout;
  manifest: ImageManifest;
  manifestDescriptor: Descriptor;
  config: ImageConfig;
  layerTars: Buffer[];
}

/** Writes a whole image into the layout at `dir` (created when missing) under `tag`. */
export async function writeTestImage(dir: string, options: TestImageOptions): Promise<TestImage> {
  const layout = await ImageLayout.openOrCreate(dir);
  const compression = options.compression ?? "gzip";
  const layerTars: Buffer[] = [];
  const layers: Descriptor[] = [];
  for (const layer of options.layers) {
    const tar = Buffer.isBuffer(layer) ? layer : await buildTar(layer);
    layerTars.push(tar);
    const blob = await compress(tar, compression);
    const stored = await layout.putBlobBytes(blob);
    layers.push({ mediaType: LAYER_MEDIA_TYPES[compression], digest: stored.digest, size: stored.size });
  }
  const config: ImageConfig = {
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: layerTars.map((tar) => digestOf(tar)) },
    history: layerTars.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "test" })),
    ...options.config,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const storedConfig = await layout.putBlobBytes(configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: storedConfig.digest, size: storedConfig.size },
    layers,
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const storedManifest = await layout.putBlobBytes(manifestBytes);
  const manifestDescriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: storedManifest.digest,
    size: storedManifest.size,
  };
  await layout.addRef(manifestDescriptor, options.tag ?? "latest");
  return { layout, manifest, manifestDescriptor, config, layerTars };
}

/**
 * An index `multi` of two images in `dir`: linux/amd64 and linux/arm64/v8, each one
 * layer with `arch.txt`; `tags` names the two images' own entries (none when absent).
 */
export async function writeTwoPlatformIndex(
  dir: string,
  tags: { amd64?: string; arm64?: string } = {},
): Promise<{ amd: TestImage; arm: TestImage; index: Descriptor }> {
  const amd = await writeTestImage(dir, { layers: [[{ name: "arch.txt", content: "amd64\n" }]], tag: tags.amd64 });
  const arm = await writeTestImage(dir, {
    layers: [[{ name: "arch.txt", content: "arm64\n" }]],
    tag: tags.arm64,
    config: { architecture: "arm64", variant: "v8" },
  });
  const document: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { ...amd.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
      { ...arm.manifestDescriptor, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ],
  };
  const stored = await amd.layout.putBlobBytes(Buffer.from(JSON.stringify(document)));
  const index = { mediaType: MediaType.ociIndex, digest: stored.digest, size: stored.size };
  await amd.layout.addRef(index, "multi");
  return { amd, arm, index };
}
