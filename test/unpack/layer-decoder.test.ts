/**
 * Layers decoded on the worker thread: the tar comes back byte for byte across
 * many layers read by a reader slower than the worker (so the worker keeps
 * waiting for the reader), and every failure arrives as the error class the
 * main thread would have thrown.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { LayerDecoder } from "../../src/bundle/layer-decoder.js";
import { DigestMismatchError, InvalidContentError, NotFoundError, UnsafeLayerError } from "../../src/errors.js";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";

async function readAll(stream: AsyncIterable<Buffer>, pauseEvery = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    // A reader slower than the worker: its buffer fills and the worker must wait.
    if (pauseEvery > 0 && chunks.length % pauseEvery === 0) await sleep(1);
  }
  return Buffer.concat(chunks);
}

test("twenty layers read slowly come back byte for byte, each with its diff_id", { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  // 2.5 MB of random bytes per layer: incompressible, so each layer is well over the reader's buffer.
  const layers = Array.from({ length: 20 }, (_, i) => [
    { name: `f${i}`, type: "file" as const, content: randomBytes(2.5 * 1024 * 1024) },
  ]);
  const image = await writeTestImage(dir, { layers });
  const decoder = new LayerDecoder(image.layout.root);
  try {
    for (const [index, descriptor] of image.manifest.layers.entries()) {
      const layer = decoder.decode(descriptor, { expectedDiffId: image.config.rootfs.diff_ids[index] });
      const tar = await readAll(layer.tar, 3);
      assert.equal(digestOf(tar), digestOf(image.layerTars[index]!), `layer ${index}`);
      assert.equal(layer.diffId(), image.config.rootfs.diff_ids[index]);
      assert.equal(layer.uncompressedSize(), image.layerTars[index]!.length);
    }
  } finally {
    await decoder.close();
  }
});

test("every failure is the error class the main thread raises", async (t) => {
  const dir = await tempDir(t);
  const image = await writeTestImage(dir, { layers: [[{ name: "a", type: "file", content: "a".repeat(100_000) }]] });
  const [descriptor] = image.manifest.layers;
  const decoder = new LayerDecoder(image.layout.root);
  t.after(() => decoder.close());
  const failure = async (run: () => AsyncIterable<Buffer>) => {
    try {
      await readAll(run());
    } catch (error) {
      return error;
    }
    assert.fail("the layer was accepted");
  };

  const wrongDiffId = await failure(
    () => decoder.decode(descriptor!, { expectedDiffId: digestOf(Buffer.from("other")) }).tar,
  );
  assert.ok(wrongDiffId instanceof DigestMismatchError, String(wrongDiffId));
  assert.match((wrongDiffId as Error).message, /diff_id/);

  const tooLarge = await failure(() => decoder.decode(descriptor!, { maxUncompressedBytes: 1000 }).tar);
  assert.ok(tooLarge instanceof UnsafeLayerError && tooLarge.code === "LAYER_TOO_LARGE", String(tooLarge));

  const missing = await failure(() => decoder.decode({ ...descriptor!, digest: digestOf(Buffer.from("absent")) }).tar);
  assert.ok(missing instanceof NotFoundError && missing.code === "BLOB_UNKNOWN", String(missing));

  // Not gzip at all, stored under its own (correct) digest.
  const junk = Buffer.from("this is not gzip data, though the media type says so");
  const stored = await image.layout.putBlobBytes(junk);
  const corrupt = await failure(
    () => decoder.decode({ mediaType: MediaType.ociLayerGzip, digest: stored.digest, size: stored.size }).tar,
  );
  assert.ok(corrupt instanceof InvalidContentError && corrupt.code === "LAYER_CORRUPT", String(corrupt));

  // A flipped byte in the stored blob: the blob digest no longer matches.
  const path = image.layout.blobPath(descriptor!.digest);
  const bytes = await readFile(path);
  bytes[bytes.length - 12]! ^= 0xff;
  await writeFile(path, bytes);
  const flipped = await failure(() => decoder.decode(descriptor!).tar);
  assert.ok(
    flipped instanceof DigestMismatchError ||
      (flipped instanceof InvalidContentError && flipped.code === "LAYER_CORRUPT"),
    String(flipped),
  );
});

test("zstd and uncompressed layers decode on the worker too", async (t) => {
  for (const compression of ["zstd", "none"] as const) {
    const dir = await tempDir(t);
    const image = await writeTestImage(dir, {
      compression,
      layers: [[{ name: "etc/hostname", type: "file", content: `${compression}\n` }]],
    });
    const decoder = new LayerDecoder(image.layout.root);
    try {
      const layer = decoder.decode(image.manifest.layers[0]!, { expectedDiffId: image.config.rootfs.diff_ids[0] });
      assert.deepEqual(await readAll(layer.tar), image.layerTars[0], compression);
    } finally {
      await decoder.close();
    }
  }
});
