/** `oci-image unpack` through bin/oci-image: arguments, exit statuses, --json, and bad input. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { DigestingStream } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { STAGING_PREFIX } from "../../src/bundle/bundle-directory.js";
import { BIN, hasStackTrace, runOciImage } from "../helpers/cli.js";
import { writeTestImage, type TarEntry } from "../helpers/image-builder.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { tempDir } from "../helpers/temp.js";

const layer: TarEntry[] = [
  { name: "etc", type: "directory" },
  { name: "etc/hello", type: "file", content: "hi\n" },
];

test("unpacks the only image without a tag; --json gives the result", async (t) => {
  const dir = await tempDir(t);
  const image = await writeTestImage(join(dir, "layout"), {
    layers: [layer, [{ name: "etc/more", type: "file", content: "more" }]],
    tag: "v1",
  });
  const bundle = join(dir, "bundle");
  const result = await runOciImage(["unpack", "--json", join(dir, "layout"), bundle]);
  assert.equal(result.status, 0, result.stderr);
  const json = JSON.parse(result.stdout);
  assert.deepEqual(json, {
    ok: true,
    ref: "v1",
    digest: image.manifestDescriptor.digest,
    platform: "linux/amd64",
    layers: 2,
    rootfs: join(bundle, "rootfs"),
    config: join(bundle, "config.json"),
  });
  assert.equal(await readFile(join(bundle, "rootfs", "etc", "hello"), "utf8"), "hi\n");
  assert.equal((await stat(bundle)).mode & 0o777, 0o700);
  const config = JSON.parse(await readFile(join(bundle, "config.json"), "utf8"));
  assert.deepEqual(config.process.args, ["/bin/sh"]);
  assert.equal(config.process.terminal, false);
  assert.equal(config.root.path, "rootfs");
  await assertValidRuntimeConfig(t, bundle);
});

test("--rootfs-only and --config-only write one half; both at once is a usage error", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), { layers: [layer], tag: "v1" });
  const rootfsOnly = await runOciImage(["unpack", "--rootfs-only", `${join(dir, "layout")}:v1`, join(dir, "a")]);
  assert.equal(rootfsOnly.status, 0, rootfsOnly.stderr);
  assert.deepEqual(await readdir(join(dir, "a")), ["rootfs"]);
  const configOnly = await runOciImage([
    "unpack",
    "--config-only",
    "--tty",
    `${join(dir, "layout")}:v1`,
    join(dir, "b"),
  ]);
  assert.equal(configOnly.status, 0, configOnly.stderr);
  assert.deepEqual(await readdir(join(dir, "b")), ["config.json"]);
  assert.equal(JSON.parse(await readFile(join(dir, "b", "config.json"), "utf8")).process.terminal, true);
  await assertValidRuntimeConfig(t, join(dir, "b"));
  const both = await runOciImage([
    "unpack",
    "--rootfs-only",
    "--config-only",
    `${join(dir, "layout")}:v1`,
    join(dir, "c"),
  ]);
  assert.equal(both.status, 2);
  assert.equal(existsSync(join(dir, "c")), false);
});

test("a missing ref, or no tag when the layout holds several images, lists the refs", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeTestImage(layout, { layers: [layer], tag: "one" });
  await writeTestImage(layout, { layers: [[{ name: "x", type: "file", content: "2" }]], tag: "two" });
  const missing = await runOciImage(["unpack", `${layout}:three`, join(dir, "b1")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no ref "three".*one, two/);
  const ambiguous = await runOciImage(["unpack", layout, join(dir, "b2")]);
  assert.equal(ambiguous.status, 2);
  assert.match(ambiguous.stderr, /holds 2 images.*refs: one, two/);
  for (const result of [missing, ambiguous]) assert.equal(hasStackTrace(result.stderr), false);
  assert.equal(existsSync(join(dir, "b1")), false);
});

test("a platform that is not in the index is refused, listing those that are", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  const image = await writeTestImage(layout, { layers: [layer], tag: "single" });
  const store = await ImageLayout.open(layout);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ ...image.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } }],
    }),
  );
  const stored = await store.putBlobBytes(index);
  await store.addRef({ mediaType: MediaType.ociIndex, digest: stored.digest, size: stored.size }, "multi");
  const wrong = await runOciImage(["unpack", "-p", "linux/s390x", `${layout}:multi`, join(dir, "b")]);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /no image for platform linux\/s390x.*available: linux\/amd64/);
  const right = await runOciImage(["unpack", "--json", "-p", "linux/amd64", `${layout}:multi`, join(dir, "b")]);
  assert.equal(right.status, 0, right.stderr);
  assert.equal(JSON.parse(right.stdout).digest, image.manifestDescriptor.digest);
  await assertValidRuntimeConfig(t, join(dir, "b"));
  const bad = await runOciImage(["unpack", "-p", "linux", `${layout}:multi`, join(dir, "c")]);
  assert.equal(bad.status, 2);
});

test("a non-empty bundle directory is refused and left as it was", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), { layers: [layer] });
  const bundle = join(dir, "bundle");
  await mkdir(bundle);
  await writeFile(join(bundle, "keep"), "mine");
  const result = await runOciImage(["unpack", "--json", join(dir, "layout"), bundle]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /is not empty/);
  assert.equal(JSON.parse(result.stdout).ok, false);
  assert.deepEqual(await readdir(bundle), ["keep"]);
  // An empty existing directory is fine.
  const empty = join(dir, "empty");
  await mkdir(empty, { mode: 0o755 });
  const ok = await runOciImage(["unpack", join(dir, "layout"), empty]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((await stat(empty)).mode & 0o777, 0o700);
  await assertValidRuntimeConfig(t, empty);
});

test("a layer media type that cannot be applied is refused before anything is written", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  const image = await writeTestImage(layout, { layers: [layer] });
  const store = await ImageLayout.open(layout);
  const manifest = {
    ...image.manifest,
    layers: [{ ...image.manifest.layers[0]!, mediaType: "application/vnd.example.squashfs" }],
  };
  const stored = await store.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
  await store.addRef({ mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size }, "odd");
  const result = await runOciImage(["unpack", `${layout}:odd`, join(dir, "bundle")]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /application\/vnd\.example\.squashfs, which is not a layer this tool can apply/);
  assert.equal(existsSync(join(dir, "bundle")), false);
});

test("an unsafe layer fails with exit 1, a clear message, no stack trace, and no bundle left", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), {
    layers: [
      [
        { name: "f", type: "file", content: "x" },
        { name: "f/x", type: "file", content: "y" },
      ],
    ],
  });
  const result = await runOciImage(["unpack", join(dir, "layout"), join(dir, "bundle")]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /\/f\/x needs \/f to be a directory/);
  assert.equal(hasStackTrace(result.stderr), false);
  assert.equal(existsSync(join(dir, "bundle")), false);
  assert.deepEqual(await readdir(dir), ["layout"], "no staging directory left");
});

test("an unknown image user is an error naming it", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), {
    layers: [layer],
    config: { config: { Cmd: ["/bin/sh"], User: "ghost" } },
  });
  const result = await runOciImage(["unpack", join(dir, "layout"), join(dir, "bundle")]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /user "ghost" is not in the rootfs's \/etc\/passwd/);
  assert.equal(existsSync(join(dir, "bundle")), false);
});

test("--config-only resolves a user name from the image's own /etc/passwd, leaving only config.json", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), {
    layers: [
      [
        { name: "etc", type: "directory" },
        { name: "etc/passwd", type: "file", content: "root:x:0:0::/:/bin/sh\nsvc:x:501:502::/:/bin/sh\n" },
        { name: "etc/group", type: "file", content: "svc:x:502:\nextra:x:600:svc\n" },
      ],
    ],
    config: { config: { Cmd: ["/bin/sh"], User: "svc" } },
  });
  const result = await runOciImage(["unpack", "--config-only", join(dir, "layout"), join(dir, "bundle")]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(await readdir(join(dir, "bundle")), ["config.json"]);
  const config = JSON.parse(await readFile(join(dir, "bundle", "config.json"), "utf8"));
  assert.deepEqual(config.process.user, { uid: 501, gid: 502, additionalGids: [600] });
  await assertValidRuntimeConfig(t, join(dir, "bundle"));
});

test("SIGINT while a layer is applied: exit 130 and no bundle left", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeZerosImage(layout, 16, 64 * 1024 * 1024);
  const bundle = join(dir, "bundle");
  const child = spawn(process.execPath, [BIN, "unpack", layout, bundle], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // Interrupt once the rootfs is being written (a GiB of it: far from done), in the staging directory
  // beside the target.
  const staging = async () => (await readdir(dir)).find((name) => name.startsWith(`${STAGING_PREFIX}bundle-`));
  const stagingRootfs = async () => join(dir, (await staging()) ?? "none", "rootfs");
  for (let i = 0; i < 400 && !existsSync(join(await stagingRootfs(), "zeros-0")); i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(existsSync(await stagingRootfs()), "the unpack started");
  assert.equal(existsSync(bundle), false, "the target holds nothing while the bundle is built");
  child.kill("SIGINT");
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(status, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.equal(existsSync(bundle), false, "the partial bundle is removed");
  for (let i = 0; i < 400 && (await staging()) !== undefined; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(await staging(), undefined, "the staging directory is removed");
});

test("an image with neither Entrypoint nor Cmd runs runc's default sh, with a warning", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "layout"), {
    layers: [[{ name: "etc/passwd", type: "file", content: "root:x:0:0:root:/root:/bin/sh\n" }]],
    config: { config: { Env: ["PATH=/bin"] } },
  });
  const bundle = join(dir, "bundle");
  const result = await runOciImage(["unpack", join(dir, "layout"), bundle]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /neither Entrypoint nor Cmd: config.json runs \["sh"\]/);
  const config = JSON.parse(await readFile(join(bundle, "config.json"), "utf8"));
  assert.deepEqual(config.process.args, ["sh"]);
  assert.ok(config.process.env.includes("HOME=/root"), "no User: HOME from root's passwd entry");
  await assertValidRuntimeConfig(t, bundle);
});

/** An image of one gzip layer holding `count` files of zeros, streamed (never whole in memory). */
async function writeZerosImage(dir: string, count: number, size: number): Promise<void> {
  const store = await ImageLayout.openOrCreate(dir);
  const tar = pack();
  const diffId = new DigestingStream("sha256");
  const stored = store.putBlob(tar.pipe(diffId).pipe(createGzip({ level: 1 })));
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < count; i++) {
    const entry = tar.entry({ name: `zeros-${i}`, size, mode: 0o644, mtime: new Date(0) });
    for (let written = 0; written < size; written += block.length) {
      if (!entry.write(block)) await new Promise<void>((resolve) => entry.once("drain", () => resolve()));
    }
    await new Promise<void>((resolve, reject) =>
      entry.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
  tar.finalize();
  const layer = await stored;
  const config = await store.putBlobBytes(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Cmd: ["/bin/sh"] },
        rootfs: { type: "layers", diff_ids: [diffId.digest()] },
      }),
    ),
  );
  const manifest = await store.putBlobBytes(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
        layers: [{ mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  await store.addRef({ mediaType: MediaType.ociManifest, digest: manifest.digest, size: manifest.size }, "zeros");
}
