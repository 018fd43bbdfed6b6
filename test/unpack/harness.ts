/**
 * Unpacks an image built in code next to a sentinel directory, and checks
 * afterwards that nothing outside the bundle changed (the sentinel, the temp
 * dir around the bundle, and a host path an absolute entry would name).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, symlink, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { unpackImage, type UnpackOptions, type UnpackResult } from "../../src/bundle/unpack-image.js";
import { tempDir } from "../helpers/temp.js";
import { writeTestImage, type Compression, type TarEntry } from "../helpers/image-builder.js";
import type { ImageConfig } from "../../src/image/types.js";
import { MediaType } from "../../src/image/media-types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { diffSnapshots, snapshotTree, type TreeSnapshot } from "../helpers/tree-snapshot.js";

export interface Sandbox {
  dir: string;
  layout: string;
  bundle: string;
  rootfs: string;
  /** A directory next to the bundle's parent that no layer may touch. */
  outside: string;
  /** A host path under /tmp an absolute entry could aim at; must never appear. */
  hostTarget: string;
  warnings: string[];
  snapshotBefore?: TreeSnapshot;
}

/** Temp dir with `outside/` (sentinel files, a 0600 file, a dir) and `work/` (the bundle's parent). */
export async function makeSandbox(t: TestContext): Promise<Sandbox> {
  const dir = await tempDir(t, "oci-image-unpack-");
  const outside = join(dir, "outside");
  await mkdir(join(outside, "dir"), { recursive: true });
  await writeFile(join(outside, "secret"), "do not touch\n", { mode: 0o600 });
  await chmod(join(outside, "secret"), 0o600);
  await writeFile(join(outside, "dir", "f"), "sentinel\n");
  await writeFile(join(outside, "x"), "original x\n");
  await symlink("secret", join(outside, "link-to-secret"));
  await mkdir(join(dir, "work"));
  const hostTarget = `/tmp/oci-image-escape-${randomBytes(6).toString("hex")}`;
  t.after(async () => {
    const { rm } = await import("node:fs/promises");
    await rm(hostTarget, { recursive: true, force: true });
  });
  return {
    dir,
    layout: join(dir, "layout"),
    bundle: join(dir, "work", "bundle"),
    rootfs: join(dir, "work", "bundle", "rootfs"),
    outside,
    hostTarget,
    warnings: [],
  };
}

export interface UnpackCase {
  layers: (TarEntry[] | Buffer)[];
  compression?: Compression;
  config?: Partial<ImageConfig>;
  options?: Partial<UnpackOptions>;
  /** Layers given as ready blobs (e.g. a truncated gzip), replacing `layers`. */
  rawLayers?: { blob: Buffer; mediaType: string; diffId: string }[];
}

export type UnpackOutcome = { ok: true; result: UnpackResult } | { ok: false; error: Error & { code?: string } };

/** Builds the image, unpacks it (root by default), then asserts nothing outside the bundle changed. */
export async function unpackCase(sandbox: Sandbox, testCase: UnpackCase): Promise<UnpackOutcome> {
  if (testCase.rawLayers) await writeRawImage(sandbox.layout, testCase.rawLayers);
  else
    await writeTestImage(sandbox.layout, {
      layers: testCase.layers,
      compression: testCase.compression,
      config: testCase.config,
    });
  const before = await snapshotOutside(sandbox);
  let outcome: UnpackOutcome;
  try {
    const result = await unpackImage({
      layout: sandbox.layout,
      bundle: sandbox.bundle,
      rootless: false,
      onWarning: (message) => sandbox.warnings.push(message),
      ...testCase.options,
    });
    outcome = { ok: true, result };
  } catch (error) {
    outcome = { ok: false, error: error as Error & { code?: string } };
  }
  await assertOutsideUnchanged(sandbox, before);
  return outcome;
}

async function snapshotOutside(sandbox: Sandbox): Promise<TreeSnapshot> {
  const snapshot = await snapshotTree(sandbox.dir, { mtimes: true, exclude: ["layout"] });
  for (const key of [...snapshot.keys()])
    if (key === "work/bundle" || key.startsWith("work/bundle/")) snapshot.delete(key);
  // The temp dir's own mode and the work dir (the bundle's parent changes mtime when the bundle appears).
  snapshot.delete(".");
  snapshot.delete("work");
  return snapshot;
}

export async function assertOutsideUnchanged(sandbox: Sandbox, before: TreeSnapshot): Promise<void> {
  const after = await snapshotOutside(sandbox);
  assert.deepEqual(diffSnapshots(before, after), [], "something outside the bundle changed");
  assert.equal(existsSync(sandbox.hostTarget), false, `${sandbox.hostTarget} was created on the host`);
}

export function expectFailure(outcome: UnpackOutcome, code: string | RegExp): Error & { code?: string } {
  assert.equal(outcome.ok, false, `expected the unpack to fail with ${code}`);
  const error = (outcome as { error: Error & { code?: string } }).error;
  if (typeof code === "string") assert.equal(error.code, code, `got ${error.code}: ${error.message}`);
  else assert.match(`${error.code}: ${error.message}`, code);
  return error;
}

export function expectSuccess(outcome: UnpackOutcome): UnpackResult {
  if (!outcome.ok) assert.fail(`unpack failed: ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.result;
}

/** A raw ustar header block (for typeflags and names tar-stream won't write). */
export function rawHeader(fields: {
  name: string;
  typeflag: string;
  size?: number;
  linkname?: string;
  mode?: number;
}): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name, 0, 100, "utf8");
  block.write(`${(fields.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100);
  block.write("0000000\0", 108);
  block.write("0000000\0", 116);
  block.write(`${(fields.size ?? 0).toString(8).padStart(11, "0")}\0`, 124);
  block.write(`${(1_700_000_000).toString(8).padStart(11, "0")}\0`, 136);
  block.write(fields.typeflag, 156, 1, "latin1");
  if (fields.linkname) block.write(fields.linkname, 157, 100, "utf8");
  block.write("ustar\0", 257, "latin1");
  block.write("00", 263, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

/** Header + data (padded) blocks of one raw entry. */
export function rawEntry(
  fields: { name: string; typeflag: string; linkname?: string; mode?: number },
  data: Buffer = Buffer.alloc(0),
): Buffer {
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([rawHeader({ ...fields, size: data.length }), padded]);
}

/** A PAX record block body: "len key=value\n" records. */
export function paxRecords(records: Record<string, string>): Buffer {
  let text = "";
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (String(length).length + Buffer.byteLength(body) !== length)
      length = String(length).length + Buffer.byteLength(body);
    text += `${length}${body}`;
  }
  return Buffer.from(text);
}

export function rawTar(...entries: Buffer[]): Buffer {
  return Buffer.concat([...entries, Buffer.alloc(1024)]);
}

/** An image whose layer blobs are stored exactly as given. */
export async function writeRawImage(
  dir: string,
  layers: { blob: Buffer; mediaType: string; diffId: string }[],
): Promise<void> {
  const layout = await ImageLayout.openOrCreate(dir);
  const descriptors = [];
  for (const layer of layers) {
    const stored = await layout.putBlobBytes(layer.blob);
    descriptors.push({ mediaType: layer.mediaType, digest: stored.digest, size: stored.size });
  }
  const config = {
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
  };
  const storedConfig = await layout.putBlobBytes(Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: storedConfig.digest, size: storedConfig.size },
    layers: descriptors,
  };
  const storedManifest = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
  await layout.addRef(
    { mediaType: MediaType.ociManifest, digest: storedManifest.digest, size: storedManifest.size },
    "latest",
  );
}
