/**
 * validate: a descriptor whose media type names a document kind must point at
 * that kind of document wherever it sits; a blob reached through a symlink out
 * of the layout is reported; many refs and layers add no listeners.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import type { ImageManifest } from "../../src/image/types.js";
import { runOciImage } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { blobPath, readImage, readIndex, replaceManifest, storeBlob, writeIndex } from "./layout-fixtures.js";

interface Finding {
  where: string;
  pointer: string;
  rule: string;
  message: string;
}

async function validate(dir: string): Promise<{ status: number | null; errors: Finding[]; stderr: string }> {
  const result = await runOciImage(["validate", "--json", dir]);
  const report = JSON.parse(result.stdout) as { valid: boolean; errors: Finding[] };
  assert.equal(report.valid, result.status === 0);
  return { status: result.status, errors: report.errors, stderr: result.stderr };
}

async function image(t: TestContext): Promise<string> {
  const dir = join(await tempDir(t), "layout");
  await writeTestImage(dir, { layers: [[{ name: "a", content: "a\n" }]], tag: "v1" });
  return dir;
}

async function assertKindMismatch(dir: string, where: string, pointer: string): Promise<void> {
  const { status, errors } = await validate(dir);
  assert.equal(status, 1);
  const found = errors.find((error) => error.rule === "descriptor-kind-mismatch");
  assert.ok(found, JSON.stringify(errors, null, 1));
  assert.match(found.message, new RegExp(`\\(${where} ${pointer}\\)`));
}

/** The image's manifest without its mediaType field (optional in the spec), as a blob. */
async function bareManifest(dir: string): Promise<string> {
  const { manifest } = await readImage(dir);
  const { mediaType: _omitted, ...bare } = manifest;
  return JSON.stringify(bare);
}

test("config: a config descriptor pointing at an image manifest", async (t) => {
  const dir = await image(t);
  const { manifest } = await readImage(dir);
  const wrong = await storeBlob(dir, await bareManifest(dir), MediaType.ociConfig);
  const changed = await replaceManifest(dir, { ...manifest, config: wrong });
  await assertKindMismatch(dir, changed.digest, "/config");
});

test("manifests[]: an index entry that says manifest pointing at an image config", async (t) => {
  const dir = await image(t);
  const { manifest } = await readImage(dir);
  const index = await readIndex(dir);
  index.manifests.push({ ...manifest.config, mediaType: MediaType.ociManifest });
  await writeIndex(dir, index);
  await assertKindMismatch(dir, join(dir, "index.json"), "/manifests/1");
});

test("manifests[]: an entry that says index pointing at a manifest with no mediaType field", async (t) => {
  const dir = await image(t);
  const bare = await storeBlob(dir, await bareManifest(dir), MediaType.ociIndex);
  const index = await readIndex(dir);
  index.manifests.push(bare);
  await writeIndex(dir, index);
  await assertKindMismatch(dir, join(dir, "index.json"), "/manifests/1");
});

test("subject: a subject that says manifest pointing at an image config", async (t) => {
  const dir = await image(t);
  const { manifest } = await readImage(dir);
  const subject = { ...manifest.config, mediaType: MediaType.ociManifest };
  const changed = await replaceManifest(dir, { ...manifest, subject } as ImageManifest);
  await assertKindMismatch(dir, changed.digest, "/subject");
});

test("layers[]: a layer descriptor whose media type is a manifest's, pointing at a config", async (t) => {
  const dir = await image(t);
  const { manifest } = await readImage(dir);
  const layers = [...manifest.layers, { ...manifest.config, mediaType: MediaType.ociManifest }];
  const changed = await replaceManifest(dir, { ...manifest, layers });
  await assertKindMismatch(dir, changed.digest, "/layers/1");
});

test("a blob that is a symlink to a file outside the layout is reported and not read", async (t) => {
  const dir = await image(t);
  const { manifest } = await readImage(dir);
  const layer = manifest.layers[0]!;
  const outside = join(dir, "..", "elsewhere");
  await mkdir(outside);
  await writeFile(join(outside, "blob"), await readFile(blobPath(dir, layer.digest)));
  await rm(blobPath(dir, layer.digest));
  await symlink(join(outside, "blob"), blobPath(dir, layer.digest));
  const { status, errors } = await validate(dir);
  assert.equal(status, 1);
  const found = errors.find((error) => error.rule === "blob-outside-layout");
  assert.ok(found, JSON.stringify(errors, null, 1));
  assert.match(found.message, /symbolic link to .*elsewhere\/blob, outside the layout/);
  // A symlink that stays inside the layout is not this problem.
  await rm(blobPath(dir, layer.digest));
  await writeFile(join(dir, "copy"), await readFile(join(outside, "blob")));
  await symlink(join("..", "..", "copy"), blobPath(dir, layer.digest));
  assert.equal(
    (await validate(dir)).errors.find((error) => error.rule === "blob-outside-layout"),
    undefined,
  );
});

test("30 refs of 30 different layers: no listener warning on stderr", async (t) => {
  const dir = join(await tempDir(t), "layout");
  for (let i = 0; i < 30; i++) {
    await writeTestImage(dir, { layers: [[{ name: `file-${i}`, content: `${i}\n` }]], tag: `t${i}` });
  }
  const result = await runOciImage(["validate", dir]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /30 refs, \d+ blobs, 30 layers read/);
  assert.equal(result.stderr, "");
});
