/**
 * `createImage` with a base, in-process: the base's layers by reference in any
 * compression, the base's blobs linked or copied into another layout (the base
 * layout untouched), annotations, platform choice from a base index, Docker
 * bases, and reproducible digests.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createImage } from "../../src/create/create-image.js";
import { NotFoundError } from "../../src/errors.js";
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION } from "../../src/image/base-config.js";
import { MediaType } from "../../src/image/media-types.js";
import { CONTAINERD_NAME_ANNOTATION, type Descriptor, type ImageManifest } from "../../src/image/types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { runOciImage } from "../helpers/cli.js";
import { writeTestImage, type Compression, type TarEntry } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { snapshotLayout } from "./verify-image.js";

const CREATED = new Date("2024-06-01T00:00:00Z");
const BASE_LAYERS: TarEntry[][] = [
  [
    { name: "etc", type: "directory" },
    { name: "etc/motd", content: "welcome\n" },
  ],
  [{ name: "etc/os-release", content: "ID=test\n" }],
];

async function appDir(dir: string): Promise<string> {
  const app = join(dir, "app");
  await mkdir(join(app, "srv"), { recursive: true });
  await writeFile(join(app, "srv", "index.html"), "hello\n");
  return app;
}

const blob = (layout: string, digest: string) => join(layout, "blobs", "sha256", digest.slice("sha256:".length));
const readManifest = async (layout: string, digest: string) =>
  JSON.parse(await readFile(blob(layout, digest), "utf8")) as ImageManifest;

for (const compression of ["gzip", "zstd", "none"] as Compression[]) {
  test(`a ${compression} base's layers are the new image's first layers, blobs byte-identical`, async (t) => {
    const dir = await tempDir(t);
    const baseLayout = join(dir, "base");
    const base = await writeTestImage(baseLayout, { layers: BASE_LAYERS, compression, tag: "os" });
    const before = await snapshotLayout(baseLayout);
    const target = join(dir, "target");
    const result = await createImage({
      rootfs: await appDir(dir),
      layout: target,
      tag: "app",
      base: { layout: baseLayout, tag: "os" },
      created: CREATED,
    });
    const manifest = await readManifest(target, result.digest);
    assert.deepEqual(manifest.layers.slice(0, 2), base.manifest.layers);
    assert.equal(manifest.layers.length, 3);
    assert.equal(manifest.layers[2]!.digest, result.layer.digest);
    for (const layer of base.manifest.layers) {
      const copied = blob(target, layer.digest);
      assert.deepEqual(await readFile(copied), await readFile(blob(baseLayout, layer.digest)));
      const linked = (await stat(copied)).ino === (await stat(blob(baseLayout, layer.digest))).ino;
      assert.ok(linked, "same file system: hard-linked, not copied");
    }
    assert.deepEqual(result.imageConfig.rootfs.diff_ids.slice(0, 2), base.config.rootfs.diff_ids);
    assert.equal(result.imageConfig.history!.length, 3);
    assert.deepEqual(manifest.annotations, {
      [BASE_NAME_ANNOTATION]: "os",
      [BASE_DIGEST_ANNOTATION]: base.manifestDescriptor.digest,
      "org.opencontainers.image.created": "2024-06-01T00:00:00Z",
    });
    assert.deepEqual(await snapshotLayout(baseLayout), before, "the base layout is never written");
    const validate = await runOciImage(["validate", `${target}:app`]);
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  });
}

test("a base on another file system has its blobs copied, checked on the way", async (t) => {
  const dir = await tempDir(t);
  const shm = await mkdtemp(join("/dev/shm", "oci-image-base-")).catch(() => undefined);
  if (!shm || (await stat(shm)).dev === (await stat(dir)).dev) {
    t.skip("no second file system (/dev/shm) here: only the hard-link path can be tested");
    return;
  }
  t.after(() => rm(shm, { recursive: true, force: true }));
  const baseLayout = join(shm, "base");
  const base = await writeTestImage(baseLayout, { layers: BASE_LAYERS, compression: "zstd", tag: "os" });
  const before = await snapshotLayout(baseLayout);
  const target = join(dir, "target");
  await createImage({ rootfs: await appDir(dir), layout: target, base: { layout: baseLayout, tag: "os" } });
  for (const layer of base.manifest.layers) {
    const copied = blob(target, layer.digest);
    assert.deepEqual(await readFile(copied), await readFile(blob(baseLayout, layer.digest)));
    assert.notEqual((await stat(copied)).dev, (await stat(baseLayout)).dev, "copied to the other file system");
  }
  assert.deepEqual(await snapshotLayout(baseLayout), before, "the base layout is never written");
});

test("same base, directory and time: the same manifest digest on two runs and in two layouts", async (t) => {
  const dir = await tempDir(t);
  const baseLayout = join(dir, "base");
  await writeTestImage(baseLayout, { layers: BASE_LAYERS, tag: "os" });
  const rootfs = await appDir(dir);
  const build = (layout: string) =>
    createImage({
      rootfs,
      layout,
      base: { layout: baseLayout, tag: "os" },
      created: CREATED,
      owner: { uid: 0, gid: 0 },
    });
  const first = await build(join(dir, "one"));
  const again = await build(join(dir, "one"));
  const other = await build(join(dir, "two"));
  assert.equal(again.digest, first.digest);
  assert.equal(other.digest, first.digest);
  const inBase = await createImage({
    rootfs,
    layout: baseLayout,
    tag: "app",
    base: { layout: baseLayout, tag: "os" },
    created: CREATED,
    owner: { uid: 0, gid: 0 },
  });
  assert.equal(inBase.digest, first.digest, "a base in the target layout itself gives the same image");
});

test("the base's name: its registry name when it was fetched, a given name over both", async (t) => {
  const dir = await tempDir(t);
  const baseLayout = join(dir, "base");
  const base = await writeTestImage(baseLayout, { layers: BASE_LAYERS, tag: "os" });
  const layout = await ImageLayout.open(baseLayout);
  const name = "registry.example/library/debian:bookworm";
  await layout.addRef({ ...base.manifestDescriptor, annotations: { [CONTAINERD_NAME_ANNOTATION]: name } }, "named");
  const rootfs = await appDir(dir);
  const fetched = await createImage({ rootfs, layout: join(dir, "t1"), base: { layout: baseLayout, tag: "named" } });
  const fetchedManifest = await readManifest(join(dir, "t1"), fetched.digest);
  assert.equal(fetchedManifest.annotations![BASE_NAME_ANNOTATION], name);
  const given = await createImage({
    rootfs,
    layout: join(dir, "t2"),
    base: { layout: baseLayout, tag: "named", name: "debian:12" },
  });
  assert.equal((await readManifest(join(dir, "t2"), given.digest)).annotations![BASE_NAME_ANNOTATION], "debian:12");
});

/** A base index of an amd64 and an arm64 image under the tag `multi`. */
async function writeBaseIndex(baseLayout: string): Promise<Record<string, Descriptor>> {
  const amd64 = await writeTestImage(baseLayout, { layers: BASE_LAYERS, tag: "amd64" });
  const arm64 = await writeTestImage(baseLayout, {
    layers: [[{ name: "arm", content: "64\n" }]],
    tag: "arm64",
    config: { architecture: "arm64" },
  });
  const layout = await ImageLayout.open(baseLayout);
  const entries = {
    amd64: { ...amd64.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
    arm64: { ...arm64.manifestDescriptor, platform: { os: "linux", architecture: "arm64" } },
  };
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: Object.values(entries) };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(index)));
  await layout.addRef({ mediaType: MediaType.ociIndex, digest: stored.digest, size: stored.size }, "multi");
  return entries;
}

test("a base index: the image for the platform asked for; none for it is an error listing the platforms", async (t) => {
  const dir = await tempDir(t);
  const baseLayout = join(dir, "base");
  const entries = await writeBaseIndex(baseLayout);
  const rootfs = await appDir(dir);
  const target = join(dir, "target");
  const arm = await createImage({
    rootfs,
    layout: target,
    tag: "arm",
    base: { layout: baseLayout, tag: "multi", platform: { os: "linux", architecture: "arm64" } },
  });
  assert.equal(arm.base!.digest, entries.arm64!.digest);
  assert.deepEqual(arm.manifest.platform, { architecture: "arm64", os: "linux" });
  assert.equal(arm.imageConfig.architecture, "arm64");
  const before = await snapshotLayout(target);
  await assert.rejects(
    createImage({
      rootfs,
      layout: target,
      tag: "ppc",
      base: { layout: baseLayout, tag: "multi" },
      platform: { os: "linux", architecture: "ppc64le" },
    }),
    (error: unknown) =>
      error instanceof NotFoundError &&
      error.code === "PLATFORM_UNKNOWN" &&
      /available: linux\/amd64, linux\/arm64/.test(error.message),
  );
  assert.deepEqual(await snapshotLayout(target), before, "nothing written");
  await assert.rejects(
    createImage({
      rootfs,
      layout: target,
      base: { layout: baseLayout, tag: "arm64" },
      platform: { os: "linux", architecture: "amd64" },
    }),
    /is for linux\/arm64, not linux\/amd64/,
  );
});

test("a Docker base: its layers keep their bytes under OCI media types, its config is the starting point", async (t) => {
  const dir = await tempDir(t);
  const baseLayout = join(dir, "base");
  const built = await writeTestImage(join(dir, "scratch"), { layers: BASE_LAYERS });
  const layout = await ImageLayout.openOrCreate(baseLayout);
  const layers: Descriptor[] = [];
  for (const layer of built.manifest.layers) {
    const bytes = await built.layout.readBlob(layer, Number.MAX_SAFE_INTEGER);
    await layout.putBlobBytes(bytes);
    layers.push({ ...layer, mediaType: MediaType.dockerLayerGzip });
  }
  const dockerConfig = { ...built.config, container_config: { Hostname: "x" }, docker_version: "24.0.0" };
  dockerConfig.config = { ...built.config.config, Env: ["PATH=/bin", "LANG=C"], Cmd: ["bash"] };
  const config = await layout.putBlobBytes(Buffer.from(JSON.stringify(dockerConfig)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: config.digest, size: config.size },
    layers,
  };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
  await layout.addRef({ mediaType: MediaType.dockerManifest, digest: stored.digest, size: stored.size }, "docker");
  const target = join(dir, "target");
  const result = await createImage({
    rootfs: await appDir(dir),
    layout: target,
    base: { layout: baseLayout, tag: "docker" },
    env: ["LANG=C.UTF-8"],
  });
  const made = await readManifest(target, result.digest);
  assert.deepEqual(
    made.layers.slice(0, 2),
    layers.map((layer) => ({ ...layer, mediaType: MediaType.ociLayerGzip })),
  );
  assert.deepEqual(result.imageConfig.config, { Env: ["PATH=/bin", "LANG=C.UTF-8"], Cmd: ["bash"] });
  assert.equal("container_config" in result.imageConfig, false);
  assert.equal(made.annotations![BASE_DIGEST_ANNOTATION], stored.digest);
  const validate = await runOciImage(["validate", target]);
  assert.equal(validate.status, 0, validate.stdout + validate.stderr);
});

test("--remove adds whiteouts to the new layer; .wh. files of the directory need whiteouts allowed", async (t) => {
  const dir = await tempDir(t);
  const baseLayout = join(dir, "base");
  await writeTestImage(baseLayout, { layers: BASE_LAYERS, tag: "os" });
  const rootfs = await appDir(dir);
  const target = join(dir, "target");
  const result = await createImage({
    rootfs,
    layout: target,
    base: { layout: baseLayout, tag: "os" },
    remove: ["/etc/motd", "etc/os-release", "etc//motd/"],
    compression: "none",
  });
  const layer = await readFile(blob(target, result.layer.digest));
  const names = tarNames(layer);
  assert.ok(names.includes("etc/.wh.motd") && names.includes("etc/.wh.os-release"), names.join(" "));
  assert.equal(names.filter((name) => name === "etc/.wh.motd").length, 1, "one whiteout per path");
  await writeFile(join(rootfs, "srv", ".wh.old"), "");
  await assert.rejects(
    createImage({ rootfs, layout: target, base: { layout: baseLayout, tag: "os" } }),
    (error: Error & { code?: string }) => error.code === "ROOTFS_WHITEOUT" && /srv\/\.wh\.old/.test(error.message),
  );
  const allowed = await createImage({
    rootfs,
    layout: target,
    base: { layout: baseLayout, tag: "os" },
    whiteouts: true,
    compression: "none",
  });
  const allowedLayer = await readFile(blob(target, allowed.layer.digest));
  assert.ok(tarNames(allowedLayer).includes("srv/.wh.old"));
  await assert.rejects(
    createImage({ rootfs, layout: target, base: { layout: baseLayout, tag: "os" }, remove: ["/a/../b"] }),
    /remove must be a path/,
  );
});

/** Entry names of an uncompressed tar (ustar headers: the name in the first 100 bytes). */
function tarNames(tar: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    names.push(header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, ""));
    const size = parseInt(header.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}
