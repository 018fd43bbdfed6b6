/**
 * The benchmark's inputs, built once and cached outside the repository:
 *
 *   rootfs/          debootstrap --variant=minbase bookworm (≈200 MB, ≈7,000 entries)
 *   rootfs-small/    etc/, usr/bin/, usr/sbin/ of it (for --quick)
 *   images/<size>/   an OCI layout made with tar + gzip (not with oci-image):
 *                    ref `bench` = 4 layers (base, usr/lib, rest of usr, changes
 *                    with whiteouts, an opaque directory, hardlinks, symlinks);
 *                    ref `multi` = an index of linux/amd64 and linux/arm64 images
 *   registry/        data of a distribution registry holding them as
 *                    bench/<size>:oci, bench/<size>:v2s2 (Docker schema 2), bench/<size>:multi
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, symlink, writeFile, link } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pushImage, startRegistry, type RunningRegistry } from "../test/helpers/registry.js";

/** Bump when the recipe changes, so cached images are rebuilt. */
const RECIPE = "1";
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";

export type InputSize = "full" | "small";

export interface Layer {
  digest: string;
  size: number;
  diffId: string;
  path: string;
}

export interface BenchImage {
  size: InputSize;
  /** The directory the image was made from (input of `create`). */
  rootfs: string;
  layout: string;
  tag: "bench";
  multiTag: "multi";
  layers: Layer[];
  manifestPath: string;
}

export function defaultCacheDir(env = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "oci-image-bench");
}

function run(program: string, args: string[], log: (line: string) => void, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`  $ ${program} ${args.join(" ")}`);
    const child = spawn(program, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${program} ${args.join(" ")} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

/** The debootstrap tree; made into a temporary name and renamed when complete. */
export async function ensureRootfs(cache: string, log: (line: string) => void): Promise<string> {
  const rootfs = join(cache, "rootfs");
  if (existsSync(rootfs)) return rootfs;
  const partial = join(cache, "rootfs.partial");
  await rm(partial, { recursive: true, force: true });
  log(`building the root filesystem with debootstrap from ${DEBIAN_MIRROR} (a few minutes, once)`);
  await run("debootstrap", ["--variant=minbase", "bookworm", partial, DEBIAN_MIRROR], log);
  await rename(partial, rootfs);
  return rootfs;
}

async function ensureSmallRootfs(cache: string, rootfs: string, log: (line: string) => void): Promise<string> {
  const small = join(cache, "rootfs-small");
  if (existsSync(small)) return small;
  const partial = `${small}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, "usr"), { recursive: true });
  await run("cp", ["-a", join(rootfs, "etc"), join(partial, "etc")], log);
  await run("cp", ["-a", join(rootfs, "usr", "bin"), join(partial, "usr", "bin")], log);
  await run("cp", ["-a", join(rootfs, "usr", "sbin"), join(partial, "usr", "sbin")], log);
  await symlink("usr/bin", join(partial, "bin"));
  await rename(partial, small);
  return small;
}

class Hasher extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** `tar … | gzip -n` into blobs/sha256/, hashing both sides as they flow. */
export async function writeLayer(layout: string, tarArgs: string[]): Promise<Layer> {
  const temp = join(layout, "blobs", "sha256", `.layer-${process.pid}`);
  const tar = spawn("tar", ["--numeric-owner", "--sort=name", "-cf", "-", ...tarArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const gzip = spawn("gzip", ["-n", "-6"], { stdio: ["pipe", "pipe", "inherit"] });
  const uncompressed = new Hasher();
  const compressed = new Hasher();
  const exited = (child: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) =>
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))),
    );
  await Promise.all([
    pipeline(tar.stdout!, uncompressed, gzip.stdin!),
    pipeline(gzip.stdout!, compressed, createWriteStream(temp)),
    exited(tar, `tar ${tarArgs.join(" ")}`),
    exited(gzip, "gzip"),
  ]);
  const digest = compressed.hash.digest("hex");
  const path = join(layout, "blobs", "sha256", digest);
  await rename(temp, path);
  return {
    digest: `sha256:${digest}`,
    size: compressed.bytes,
    diffId: `sha256:${uncompressed.hash.digest("hex")}`,
    path,
  };
}

export async function writeJsonBlob(
  layout: string,
  document: unknown,
): Promise<{ digest: string; size: number; path: string }> {
  const bytes = Buffer.from(JSON.stringify(document));
  const hex = createHash("sha256").update(bytes).digest("hex");
  const path = join(layout, "blobs", "sha256", hex);
  await writeFile(path, bytes);
  return { digest: `sha256:${hex}`, size: bytes.length, path };
}

/** The last layer: deletions (whiteouts, an opaque directory), hardlinks and symlinks over the lower ones. */
async function makeChangesTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (const sub of ["etc/skel", "usr/bin", "usr/local/bin", "opt/bench"])
    await mkdir(join(dir, sub), { recursive: true, mode: 0o755 });
  await writeFile(join(dir, "etc", ".wh.motd"), "");
  await writeFile(join(dir, "etc", ".wh.issue.net"), "");
  await writeFile(join(dir, "usr", "bin", ".wh.yes"), "");
  await writeFile(join(dir, "etc", "skel", ".wh..wh..opq"), "");
  await writeFile(join(dir, "etc", "skel", ".profile"), "# replaces the whole of /etc/skel\n");
  await writeFile(join(dir, "opt", "bench", "data"), Buffer.alloc(1 << 20, "oci-image benchmark data\n"));
  await link(join(dir, "opt", "bench", "data"), join(dir, "opt", "bench", "data-link"));
  await writeFile(join(dir, "usr", "local", "bin", "tool"), "#!/bin/sh\necho tool\n", { mode: 0o755 });
  await link(join(dir, "usr", "local", "bin", "tool"), join(dir, "usr", "local", "bin", "tool-alias"));
  await symlink("data", join(dir, "opt", "bench", "current"));
  await symlink("/bin/sh", join(dir, "usr", "local", "bin", "sh-link"));
  await symlink("../../opt/bench/data", join(dir, "etc", "skel", "bench-data"));
}

const LAYER_RECIPES: Record<InputSize, { created_by: string; args: string[] }[]> = {
  full: [
    { created_by: "everything but /usr", args: ["--exclude=./usr", "."] },
    { created_by: "/usr/lib", args: ["./usr/lib"] },
    { created_by: "the rest of /usr", args: ["--exclude=./usr/lib", "./usr"] },
  ],
  small: [
    { created_by: "/etc", args: ["./etc"] },
    { created_by: "/usr/sbin", args: ["./usr/sbin"] },
    { created_by: "/usr/bin", args: ["./usr/bin"] },
  ],
};

async function ensureImage(
  cache: string,
  size: InputSize,
  rootfs: string,
  log: (line: string) => void,
): Promise<string> {
  const layout = join(cache, "images", `${size}-${RECIPE}`);
  if (existsSync(join(layout, "index.json"))) return layout;
  const partial = `${layout}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, "blobs", "sha256"), { recursive: true });
  log(`building the ${size} image (tar + gzip of parts of the tree) in ${layout}`);
  const changes = join(cache, `changes-${size}`);
  await makeChangesTree(changes);
  const recipes = [
    ...LAYER_RECIPES[size].map((r) => ({ ...r, args: ["-C", rootfs, ...r.args] })),
    { created_by: "changes: whiteouts, opaque dir, hardlinks, symlinks", args: ["-C", changes, "."] },
  ];
  const layers: Layer[] = [];
  for (const recipe of recipes) layers.push(await writeLayer(partial, recipe.args));
  await rm(changes, { recursive: true, force: true });
  const manifestFor = async (architecture: string) => {
    const config = await writeJsonBlob(partial, {
      created: "2025-05-20T00:00:00Z",
      architecture,
      os: "linux",
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd: ["/bin/bash"],
        WorkingDir: "/",
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: recipes.map((r) => ({ created: "2025-05-20T00:00:00Z", created_by: r.created_by })),
    });
    return writeJsonBlob(partial, {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
    });
  };
  const amd64 = await manifestFor("amd64");
  // The arm64 image shares the layers: only its config differs; it exists to make a real index.
  const arm64 = await manifestFor("arm64");
  const manifestType = "application/vnd.oci.image.manifest.v1+json";
  const index = await writeJsonBlob(partial, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: manifestType,
        digest: amd64.digest,
        size: amd64.size,
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        mediaType: manifestType,
        digest: arm64.digest,
        size: arm64.size,
        platform: { architecture: "arm64", os: "linux", variant: "v8" },
      },
    ],
  });
  await writeFile(
    join(partial, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: manifestType,
          digest: amd64.digest,
          size: amd64.size,
          annotations: { "org.opencontainers.image.ref.name": "bench" },
        },
        {
          mediaType: "application/vnd.oci.image.index.v1+json",
          digest: index.digest,
          size: index.size,
          annotations: { "org.opencontainers.image.ref.name": "multi" },
        },
      ],
    }),
  );
  await writeFile(join(partial, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await rename(partial, layout);
  return layout;
}

/** Reads back what ensureImage wrote (cheap: a few JSON files). */
async function describeImage(size: InputSize, rootfs: string, layout: string): Promise<BenchImage> {
  const blob = (digest: string) => join(layout, "blobs", "sha256", digest.slice("sha256:".length));
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  const manifestDescriptor = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.["org.opencontainers.image.ref.name"] === "bench",
  );
  const manifest = JSON.parse(await readFile(blob(manifestDescriptor.digest), "utf8"));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), "utf8"));
  const layers = manifest.layers.map((l: { digest: string; size: number }, i: number) => ({
    digest: l.digest,
    size: l.size,
    diffId: config.rootfs.diff_ids[i],
    path: blob(l.digest),
  }));
  return {
    size,
    rootfs,
    layout,
    tag: "bench",
    multiTag: "multi",
    layers,
    manifestPath: blob(manifestDescriptor.digest),
  };
}

export async function ensureImages(
  cache: string,
  sizes: InputSize[],
  log: (line: string) => void,
): Promise<Record<InputSize, BenchImage | undefined>> {
  await mkdir(cache, { recursive: true });
  const rootfs = await ensureRootfs(cache, log);
  const images: Record<InputSize, BenchImage | undefined> = { full: undefined, small: undefined };
  for (const size of sizes) {
    const tree = size === "full" ? rootfs : await ensureSmallRootfs(cache, rootfs, log);
    images[size] = await describeImage(size, tree, await ensureImage(cache, size, tree, log));
  }
  return images;
}

export interface BenchRegistry extends RunningRegistry {
  /** `HOST/bench/<size>:<form>` for form oci | v2s2 | multi. */
  reference(size: InputSize, form: "oci" | "v2s2" | "multi"): string;
}

/** Starts the registry on the cached data, pushing the images the first time. */
export async function startBenchRegistry(
  cache: string,
  images: BenchImage[],
  log: (line: string) => void,
): Promise<BenchRegistry> {
  const dataDir = join(cache, `registry-${RECIPE}`);
  await mkdir(dataDir, { recursive: true });
  const registry = await startRegistry({ dataDir });
  const reference = (size: InputSize, form: string) => `${registry.host}/bench/${size}:${form}`;
  try {
    for (const image of images) {
      const marker = join(dataDir, `.pushed-${image.size}`);
      if (existsSync(marker)) continue;
      log(`pushing the ${image.size} image to the registry (OCI, Docker schema 2, index) with skopeo`);
      await pushImage(`oci:${image.layout}:${image.tag}`, registry, `bench/${image.size}:oci`);
      await pushImage(`oci:${image.layout}:${image.tag}`, registry, `bench/${image.size}:v2s2`, { format: "v2s2" });
      await pushImage(`oci:${image.layout}:${image.multiTag}`, registry, `bench/${image.size}:multi`, { all: true });
      await writeFile(marker, new Date().toISOString());
    }
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return { ...registry, reference: (size, form) => reference(size, form) };
}
