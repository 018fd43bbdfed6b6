/**
 * Rootless unpack as a real unprivileged user (nobody): read-only directories
 * of a lower layer are written into and whited out in, their modes come back,
 * owners are recorded, and a failed unpack still removes the whole bundle.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, chown, lstat, mkdir, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { runCliAs } from "../helpers/as-user.js";
import { writeTestImage, type TarEntry } from "../helpers/image-builder.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { tempDir } from "../helpers/temp.js";
import { STAGING_PREFIX } from "../../src/bundle/bundle-directory.js";
import { isRoot } from "../helpers/tools.js";

const NOBODY = 65534;

async function asNobody(
  t: TestContext,
  layers: TarEntry[][],
  flags = ["--rootless", "--rootfs-only"],
): Promise<{ status: number | null; stderr: string; bundle: string }> {
  const dir = await tempDir(t, "oci-image-rootless-");
  await chmod(dir, 0o755);
  const layout = join(dir, "layout");
  await writeReadableImage(layout, layers);
  const work = join(dir, "work");
  await mkdir(work);
  await chown(work, NOBODY, NOBODY);
  const bundle = join(work, "bundle");
  const result = await runCliAs(NOBODY, NOBODY, ["unpack", ...flags, layout, bundle]);
  // The test's temp dir cleanup runs as root, so a 0555 directory left behind would still go.
  return { status: result.status, stderr: result.stderr, bundle };
}

test("rootless as nobody: read-only lower directories written into, keep their modes, owners recorded", async (t) => {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root");
    return;
  }
  const result = await asNobody(t, [
    [
      { name: "ro", type: "directory", mode: 0o555 },
      { name: "ro/old", type: "file", content: "old", mode: 0o444 },
      { name: "ro/gone", type: "file", content: "x" },
      { name: "owned", type: "file", content: "x", uid: 33, gid: 33 },
    ],
    [
      { name: "ro/new", type: "file", content: "new" },
      { name: "ro/.wh.gone", type: "file" },
      { name: "ro/old", type: "file", content: "replaced" },
    ],
  ]);
  assert.equal(result.status, 0, result.stderr);
  const rootfs = join(result.bundle, "rootfs");
  assert.deepEqual((await readdir(join(rootfs, "ro"))).sort(), ["new", "old"]);
  assert.equal(await readFile(join(rootfs, "ro", "old"), "utf8"), "replaced");
  assert.equal((await stat(join(rootfs, "ro"))).mode & 0o7777, 0o555, "the lower directory's mode is put back");
  assert.equal((await stat(join(rootfs, "owned"))).uid, NOBODY);
  assert.match(await readFile(join(result.bundle, "rootfs-owners.tsv"), "utf8"), /^33:33\t\/owned$/m);
  assert.match(result.stderr, /owners recorded, not applied/);
});

test("rootless as nobody: a failure after read-only directories still removes the bundle", async (t) => {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root");
    return;
  }
  const result = await asNobody(t, [
    [
      { name: "ro", type: "directory", mode: 0o555 },
      { name: "ro/sub", type: "directory", mode: 0o500 },
      { name: "ro/sub/f", type: "file", content: "x", mode: 0o400 },
    ],
    [
      { name: "ro/sub/f", type: "file", content: "y" },
      { name: "ro/sub/f/x", type: "file", content: "under a file" },
    ],
  ]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /needs \/ro\/sub\/f to be a directory/);
  assert.equal(existsSync(result.bundle), false, "the bundle is gone even with 0555 directories in it");
  assert.deepEqual(await readdir(dirname(result.bundle)), [], "so is the staging directory beside it");
});

test("rootless as nobody: the whole bundle follows the runtime-spec, nobody mapped to root", async (t) => {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root");
    return;
  }
  const result = await asNobody(t, [[{ name: "ro", type: "directory", mode: 0o555 }]], []);
  assert.equal(result.status, 0, result.stderr);
  assert.equal((await stat(result.bundle)).mode & 0o777, 0o700);
  const config = JSON.parse(await readFile(join(result.bundle, "config.json"), "utf8"));
  assert.deepEqual(config.linux.uidMappings, [{ containerID: 0, hostID: NOBODY, size: 1 }]);
  await assertValidRuntimeConfig(t, result.bundle);
  assert.deepEqual(await readdir(dirname(result.bundle)), ["bundle"], "no staging directory left");
});

test("nobody's empty target in an unwritable parent: built inside it, stale staging gone", async (t) => {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root");
    return;
  }
  const dir = await tempDir(t, "oci-image-rootless-");
  await chmod(dir, 0o755);
  const layout = join(dir, "layout");
  await writeReadableImage(layout, [[{ name: "etc/hello", type: "file", content: "hi" }]]);
  const bundle = join(dir, "bundle");
  await mkdir(bundle);
  // What a killed run into this directory left behind.
  const stale = join(bundle, `${STAGING_PREFIX}bundle-0123456789ab`);
  await mkdir(join(stale, "rootfs"), { recursive: true });
  for (const path of [bundle, stale, join(stale, "rootfs")]) await chown(path, NOBODY, NOBODY);
  const result = await runCliAs(NOBODY, NOBODY, ["unpack", layout, bundle]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual((await readdir(bundle)).sort(), ["config.json", "rootfs"]);
  assert.equal(await readFile(join(bundle, "rootfs", "etc", "hello"), "utf8"), "hi");
  assert.equal((await stat(bundle)).mode & 0o777, 0o700);
  assert.deepEqual((await readdir(dir)).sort(), ["bundle", "layout"], "nothing written beside it");
  await assertValidRuntimeConfig(t, bundle);
});

test("nobody unpacking into a directory they can't write: one line naming it, exit 1", async (t) => {
  if (!isRoot()) {
    t.skip("switching to the nobody user needs root");
    return;
  }
  const dir = await tempDir(t, "oci-image-rootless-");
  await chmod(dir, 0o755);
  const layout = join(dir, "layout");
  await writeReadableImage(layout, [[{ name: "etc/hello", type: "file", content: "hi" }]]);
  const result = await runCliAs(NOBODY, NOBODY, ["unpack", layout, join(dir, "bundle")]);
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`creating the bundle .*: ${dir} can't be written \\(permission denied\\)`));
  assert.deepEqual((await readdir(dir)).sort(), ["layout"]);
});

/** A test image whose layout the nobody user can read. */
async function writeReadableImage(layout: string, layers: TarEntry[][]): Promise<void> {
  await writeTestImage(layout, { layers });
  for (const path of await readdir(layout, { recursive: true })) {
    const full = join(layout, path);
    await chmod(full, (await lstat(full)).isDirectory() ? 0o755 : 0o644);
  }
  await chmod(layout, 0o755);
}
