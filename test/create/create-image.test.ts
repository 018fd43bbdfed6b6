/** The library entry `createImage`, in-process: its result, replacement, and abort. */
import assert from "node:assert/strict";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createImage } from "../../src/create/create-image.js";
import { InvalidSettingError } from "../../src/errors.js";
import { tempDir } from "../helpers/temp.js";
import { checkImage, snapshotLayout } from "./verify-image.js";

test("createImage returns what it stored and reports the entry it replaced", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  await writeFile(join(root, "f"), "content\n");
  const layout = join(dir, "layout");
  const first = await createImage({
    rootfs: root,
    layout,
    tag: "v1",
    cmd: ["/f"],
    platform: { os: "linux", architecture: "arm", variant: "v7" },
    now: new Date("2024-01-01T00:00:00Z"),
  });
  const image = await checkImage(layout, "v1");
  assert.equal(first.digest, image.manifestDigest);
  assert.equal(first.ref, "v1");
  assert.equal(first.replaced, undefined);
  assert.deepEqual(first.manifest.platform, { architecture: "arm", os: "linux", variant: "v7" });
  assert.deepEqual(first.config, image.manifest.config);
  assert.equal(first.layer.digest, image.manifest.layers[0]!.digest);
  assert.equal(first.layer.diffId, image.config.rootfs.diff_ids[0]);
  assert.equal(first.layer.uncompressedSize, image.layerTar.length);
  assert.equal(image.config.variant, "v7");
  assert.equal(image.config.created, "2024-01-01T00:00:00Z");

  const second = await createImage({
    rootfs: root,
    layout,
    tag: "v1",
    cmd: ["/g"],
    now: new Date("2024-01-01T00:00:00Z"),
  });
  assert.equal(second.replaced, first.digest);
  assert.equal(second.layer.diffId, first.layer.diffId, "same tree, same layer");
});

test("createImage refuses bad settings before touching anything", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  const layout = join(dir, "layout");
  await assert.rejects(createImage({ rootfs: root, layout, env: ["FOO"] }), InvalidSettingError);
  await assert.rejects(createImage({ rootfs: root, layout, compression: "none", level: 3 }), /level does not apply/);
  assert.deepEqual(await snapshotLayout(layout), { "<absent>": "" });
});

test("an aborted createImage leaves no layout behind", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  const file = await open(join(root, "big"), "w");
  await file.truncate(2 * 1024 * 1024 * 1024);
  await file.close();
  const layout = join(dir, "layout");
  const controller = new AbortController();
  let aborted = false;
  const creating = createImage({
    rootfs: root,
    layout,
    signal: controller.signal,
    onLayerProgress: () => {
      if (!aborted) {
        aborted = true;
        controller.abort();
      }
    },
  });
  await assert.rejects(creating, (error: Error) => error.name === "AbortError");
  assert.ok(aborted);
  assert.deepEqual(await snapshotLayout(layout), { "<absent>": "" });
});
