/**
 * Layouts for the push tests, built in code: one image of three layers (one of
 * incompressible bytes, big enough to upload in chunks), an OCI index of two
 * platforms, and a zstd image.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Descriptor } from "../../src/image/types.js";
import { writeTestImage, writeTwoPlatformIndex } from "../helpers/image-builder.js";
import { runOciImage, type CliResult } from "../helpers/cli.js";

export interface PushLayouts {
  /** `<dir>:app`: a manifest of three layers. */
  single: string;
  singleDigest: string;
  /** Size of its largest layer. */
  bigLayerSize: number;
  /** `<dir>:multi`: an OCI index of linux/amd64 and linux/arm64/v8. */
  index: string;
  indexDigest: string;
  armDigest: string;
  /** `<dir>:zstd`: zstd-compressed layers. */
  zstd: string;
  zstdDigest: string;
}

export async function buildPushLayouts(dir: string): Promise<PushLayouts> {
  const big = randomBytes(600 * 1024);
  const single = await writeTestImage(join(dir, "single"), {
    layers: [
      [
        { name: "etc/", type: "directory" },
        { name: "etc/hostname", content: "pushed\n" },
      ],
      [{ name: "data.bin", content: big }],
      [{ name: "hello.txt", content: `hello ${randomBytes(4).toString("hex")}\n` }],
    ],
    tag: "app",
  });
  const { arm, index } = await writeTwoPlatformIndex(join(dir, "multi"), { arm64: "arm" });
  const zstd = await writeTestImage(join(dir, "zstd"), {
    layers: [[{ name: "z.txt", content: "zstd\n" }]],
    compression: "zstd",
    tag: "zstd",
  });
  return {
    single: `${join(dir, "single")}:app`,
    singleDigest: single.manifestDescriptor.digest,
    bigLayerSize: Math.max(...single.manifest.layers.map((layer: Descriptor) => layer.size)),
    index: `${join(dir, "multi")}:multi`,
    indexDigest: index.digest,
    armDigest: arm.manifestDescriptor.digest,
    zstd: `${join(dir, "zstd")}:zstd`,
    zstdDigest: zstd.manifestDescriptor.digest,
  };
}

export interface PushJson {
  ok: boolean;
  reference: string;
  digest: string;
  mediaType: string;
  tag: string | null;
  blobs: { pushed: number; skipped: number; mounted: number; bytes: number };
}

/** `oci-image push --json …`, which must succeed. */
export async function pushJson(args: string[], input?: string): Promise<PushJson> {
  const result = await runOciImage(["push", "--json", ...args], { input });
  assert(result, args);
  return JSON.parse(result.stdout) as PushJson;
}

function assert(result: CliResult, args: string[]): void {
  if (result.status !== 0) throw new Error(`push ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
}

/** Blob file name → bytes, for every blob of a layout. */
export async function layoutBlobs(layout: string): Promise<Map<string, Buffer>> {
  const dir = join(layout, "blobs", "sha256");
  const blobs = new Map<string, Buffer>();
  for (const name of await readdir(dir)) blobs.set(name, await readFile(join(dir, name)));
  return blobs;
}
