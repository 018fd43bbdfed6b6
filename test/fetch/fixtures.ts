/**
 * Test images for the fetch tests, built in code and pushed with skopeo:
 * an OCI image of several layers, the same as Docker schema 2, an OCI index of
 * two platforms and the same as a Docker manifest list.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTestImage, writeTwoPlatformIndex } from "../helpers/image-builder.js";
import { pushImage, type RunningRegistry } from "../helpers/registry.js";

export interface PushedImages {
  /** repo:tag of each, on the registry */
  oci: string;
  docker: string;
  ociIndex: string;
  dockerList: string;
  /** Digests the registry serves for each. */
  digests: { oci: string; docker: string; ociIndex: string; dockerList: string };
  /** Layer and config digests of the single image (the same bytes in both formats). */
  blobDigests: string[];
  /** Size in bytes of the largest layer (for faults mid-blob). */
  bigLayerSize: number;
}

/** Pushes the four test images to `repository` on the registry. */
export async function pushTestImages(
  registry: RunningRegistry,
  repository = "test/app",
  creds?: string,
): Promise<PushedImages> {
  const dir = await mkdtemp(join(tmpdir(), "oci-image-fixture-"));
  try {
    // Random bytes don't compress: the big layer stays ~300 kB, enough to cut in the middle.
    const big = randomBytes(300 * 1024);
    const single = await writeTestImage(join(dir, "single"), {
      layers: [
        [
          { name: "etc/", type: "directory" },
          { name: "etc/hostname", content: "fetched\n" },
        ],
        [{ name: "data.bin", content: big }],
        [
          { name: "usr/", type: "directory" },
          { name: "usr/hello.txt", content: "hello\n" },
        ],
      ],
      tag: "v1",
    });
    await writeTwoPlatformIndex(join(dir, "multi"), { amd64: "amd64", arm64: "arm64" });

    const push = (source: string, tag: string, options: { format?: "v2s2"; all?: boolean } = {}) =>
      pushImage(source, registry, `${repository}:${tag}`, { ...options, creds });
    const digests = {
      oci: await push(`oci:${join(dir, "single")}:v1`, "oci"),
      docker: await push(`oci:${join(dir, "single")}:v1`, "docker", { format: "v2s2" }),
      ociIndex: await push(`oci:${join(dir, "multi")}:multi`, "index", { all: true }),
      dockerList: await push(`oci:${join(dir, "multi")}:multi`, "list", { all: true, format: "v2s2" }),
    };
    const blobDigests = [single.manifest.config.digest, ...single.manifest.layers.map((layer) => layer.digest)];
    const bigLayerSize = Math.max(...single.manifest.layers.map((layer) => layer.size));
    return {
      oci: `${repository}:oci`,
      docker: `${repository}:docker`,
      ociIndex: `${repository}:index`,
      dockerList: `${repository}:list`,
      digests,
      blobDigests,
      bigLayerSize,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file under a layout (relative path → bytes), to show a failed fetch changed nothing. */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true })) as string[];
  } catch {
    return result;
  }
  for (const entry of entries.sort()) {
    try {
      result.set(entry, (await readFile(join(dir, entry))).toString("base64"));
    } catch {
      result.set(entry, "<dir>");
    }
  }
  return result;
}

/** The blob files of a layout (`sha256/<hex>`), temp files included by name. */
export async function listBlobs(dir: string): Promise<string[]> {
  try {
    return ((await readdir(join(dir, "blobs"), { recursive: true })) as string[])
      .filter((name) => name.includes("/"))
      .sort();
  } catch {
    return [];
  }
}
