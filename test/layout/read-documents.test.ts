/** The layout's typed readers: documents come back only once verified and checked against the image-spec. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";

test("readManifest, readConfig and readIndex return checked documents", async (t) => {
  const dir = await tempDir(t);
  const { manifestDescriptor, config } = await writeTestImage(dir, { layers: [[{ name: "a", content: "a" }]] });
  const layout = await ImageLayout.open(dir);
  const manifest = await layout.readManifest(manifestDescriptor);
  assert.equal(manifest.layers.length, 1);
  assert.deepEqual(await layout.readConfig(manifest.config), config);
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [manifestDescriptor] };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(index)));
  assert.deepEqual(await layout.readIndex(stored), index);
  assert.equal((await layout.readIndex()).manifests.length, 1, "no descriptor: the layout's index.json");
});

test("a document of another kind, or one breaking the spec, is refused with its rule", async (t) => {
  const dir = await tempDir(t);
  const { manifestDescriptor, manifest } = await writeTestImage(dir, { layers: [[{ name: "a", content: "a" }]] });
  const layout = await ImageLayout.open(dir);
  await assert.rejects(layout.readManifest(manifest.config), (error: Error & { code?: string }) => {
    assert.equal(error.code, "MANIFEST_INVALID");
    assert.match(error.message, /is not a valid image manifest/);
    return true;
  });
  await assert.rejects(layout.readConfig(manifestDescriptor), { code: "CONFIG_INVALID" });
  const badSize = await layout.putBlobBytes(
    Buffer.from(JSON.stringify({ ...manifest, layers: [{ ...manifest.layers[0], size: -1 }] })),
  );
  await assert.rejects(layout.readManifest(badSize), /size-invalid|schema-minimum/);
  await assert.rejects(layout.readManifest({ ...manifestDescriptor, size: manifestDescriptor.size + 1 }), {
    code: "DIGEST_MISMATCH",
  });
});
