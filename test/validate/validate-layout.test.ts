/**
 * `oci-image validate <layout>` against layouts other tools wrote (skopeo,
 * umoci) and against the same layouts broken in one way each: every breakage
 * is reported with its rule, exit 1, and no stack trace.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { buildTar } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";
import {
  blobPath,
  buildSourceImage,
  buildWithUmoci,
  copyLayout,
  copyWithSkopeo,
  readImage,
  readIndex,
  replaceConfig,
  replaceLayer,
  replaceManifest,
  storeBlob,
  writeIndex,
} from "./layout-fixtures.js";

interface Report {
  ok: boolean;
  valid: boolean;
  checked: { path: string; type: string; valid: boolean; refs?: string[]; blobs?: number; layers?: number }[];
  errors: { where: string; pointer: string; rule: string; message: string }[];
  warnings: { where: string; pointer: string; rule: string; message: string }[];
}

async function validate(
  args: string[],
  cwd?: string,
): Promise<{ status: number | null; report: Report; stderr: string }> {
  const result = await runOciImage(["validate", "--json", ...args], { cwd });
  assert.ok(
    !hasStackTrace(result.stderr) && !hasStackTrace(result.stdout),
    `stack trace:\n${result.stderr}${result.stdout}`,
  );
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(
      `validate ${args.join(" ")} did not print JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { status: result.status, report, stderr: result.stderr };
}

async function assertValid(args: string[]): Promise<Report> {
  const { status, report } = await validate(args);
  assert.deepEqual(report.errors, [], "no errors expected");
  assert.equal(report.valid, true);
  assert.equal(status, 0);
  return report;
}

/** Exit 1, with an error of `rule` (and where/pointer when given) among the errors. */
async function assertProblem(
  args: string[],
  expected: { rule: string; where?: string; pointer?: string; message?: RegExp },
): Promise<Report> {
  const { status, report } = await validate(args);
  const match = report.errors.find(
    (e) =>
      e.rule === expected.rule &&
      (expected.where === undefined || e.where === expected.where) &&
      (expected.pointer === undefined || e.pointer === expected.pointer),
  );
  assert.ok(
    match,
    `expected a ${expected.rule} error${expected.where ? ` at ${expected.where} ${expected.pointer ?? ""}` : ""}; got ${JSON.stringify(report.errors, null, 1)}`,
  );
  if (expected.message) assert.match(match.message, expected.message);
  assert.equal(report.valid, false);
  assert.equal(report.ok, false);
  assert.equal(status, 1);
  return report;
}

/** One skopeo-written layout shared by the breakage tests; each breaks its own copy. */
let skopeoLayout: Promise<string> | undefined;
let shared: string | undefined;

async function skopeoBase(t: TestContext): Promise<string | undefined> {
  const skopeo = requireTool(t, "skopeo");
  if (!skopeo) return undefined;
  skopeoLayout ??= (async () => {
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    shared = await mkdtemp(join(tmpdir(), "oci-image-validate-"));
    await buildSourceImage(join(shared, "ours"));
    await copyWithSkopeo(skopeo, `${join(shared, "ours")}:src`, `${join(shared, "skopeo")}:app`);
    return join(shared, "skopeo");
  })();
  return skopeoLayout;
}

test.after(async () => {
  if (shared) await rm(shared, { recursive: true, force: true });
});

/** A fresh copy of the skopeo layout to break. */
async function brokenCopy(t: TestContext): Promise<string | undefined> {
  const base = await skopeoBase(t);
  if (!base) return undefined;
  const dir = join(await tempDir(t), "layout");
  await copyLayout(base, dir);
  return dir;
}

test("a layout built in code validates clean, every layer read", async (t) => {
  const dir = join(await tempDir(t), "ours");
  await buildSourceImage(dir);
  const report = await assertValid([dir]);
  assert.deepEqual(report.checked[0]!.refs, ["src"]);
  assert.equal(report.checked[0]!.layers, 2);
  assert.equal(report.checked[0]!.blobs, 4);
});

test("a layout skopeo wrote validates clean, whole and by tag", async (t) => {
  const dir = await skopeoBase(t);
  if (!dir) return;
  const report = await assertValid([dir]);
  assert.deepEqual(report.checked[0]!.refs, ["app"]);
  assert.equal(report.checked[0]!.layers, 2);
  await assertValid([`${dir}:app`]);
  await assertValid(["--fast", dir]);
});

test("a layout umoci built (new, unpack, repack, config) validates clean", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  const work = await tempDir(t);
  await buildWithUmoci(umoci, join(work, "umoci"), join(work, "bundle"));
  const report = await assertValid([join(work, "umoci")]);
  assert.deepEqual(report.checked[0]!.refs, ["img"]);
  assert.equal(report.checked[0]!.layers, 1);
  // skopeo reads umoci's layout and writes its own, which validates too.
  const skopeo = requireTool(t, "skopeo");
  if (!skopeo) return;
  await copyWithSkopeo(skopeo, `${join(work, "umoci")}:img`, `${join(work, "copy")}:img`);
  await assertValid([join(work, "copy")]);
});

test("umoci's empty base image (a manifest with no layers) is reported", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  const dir = join(await tempDir(t), "umoci");
  const { runProgram } = await import("../helpers/cli.js");
  assert.equal((await runProgram(umoci, ["init", "--layout", dir])).status, 0);
  assert.equal((await runProgram(umoci, ["new", "--image", `${dir}:base`])).status, 0);
  await assertProblem([dir], { rule: "layers-empty", pointer: "/layers" });
});

test("a flipped byte in a layer: blob-digest at the layer; --fast does not read it", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { manifest } = await readImage(dir);
  const layer = manifest.layers[1]!;
  const path = blobPath(dir, layer.digest);
  const bytes = await readFile(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await writeFile(path, bytes);
  await assertProblem([dir], { rule: "blob-digest", where: layer.digest });
  await assertValid(["--fast", dir]);
});

test("a truncated config: blob-size where the manifest points at it", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { entry, manifest } = await readImage(dir);
  await truncate(blobPath(dir, manifest.config.digest), manifest.config.size - 5);
  await assertProblem([dir], { rule: "blob-size", where: entry.digest, pointer: "/config" });
  await assertProblem(["--fast", dir], { rule: "blob-size", where: entry.digest, pointer: "/config" });
});

test("a deleted layer blob: blob-missing naming the digest", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { entry, manifest } = await readImage(dir);
  await unlink(blobPath(dir, manifest.layers[0]!.digest));
  await assertProblem([dir], {
    rule: "blob-missing",
    where: entry.digest,
    pointer: "/layers/0",
    message: new RegExp(manifest.layers[0]!.digest),
  });
});

test("a wrong diff_id: layer-diff-id at the config's diff_ids entry", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const config = await replaceConfig(dir, (c) => ({
    ...c,
    rootfs: { ...c.rootfs, diff_ids: [c.rootfs.diff_ids[0]!, `sha256:${"0".repeat(64)}`] },
  }));
  await assertProblem([dir], { rule: "layer-diff-id", where: config.digest, pointer: "/rootfs/diff_ids/1" });
});

test("fewer diff_ids than layers: diff-ids-count", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const config = await replaceConfig(dir, (c) => ({
    ...c,
    rootfs: { ...c.rootfs, diff_ids: c.rootfs.diff_ids.slice(0, 1) },
  }));
  await assertProblem(["--fast", dir], { rule: "diff-ids-count", where: config.digest });
});

test("a digest with ../ in index.json is refused before it becomes a path", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const index = await readIndex(dir);
  const { entry } = await readImage(dir);
  // blobs/sha256/../../etc/passwd would be <layout>/etc/passwd: put a real manifest there to show it is never read.
  await mkdir(join(dir, "etc"));
  await writeFile(join(dir, "etc", "passwd"), await readFile(blobPath(dir, entry.digest)));
  index.manifests[0]!.digest = "sha256:../../etc/passwd";
  await writeIndex(dir, index);
  const report = await assertProblem([dir], { rule: "digest-invalid", pointer: "/manifests/0/digest" });
  assert.equal(report.checked[0]!.blobs, 0, "no blob may have been looked up");
});

test("an upper-case digest in index.json: digest-invalid", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const index = await readIndex(dir);
  index.manifests[0]!.digest = index.manifests[0]!.digest.toUpperCase().replace("SHA256", "sha256");
  await writeIndex(dir, index);
  await assertProblem([dir], { rule: "digest-invalid", pointer: "/manifests/0/digest" });
});

test("imageLayoutVersion other than 1.0.0, a missing oci-layout, a missing index.json", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
  await assertProblem([dir], { rule: "layout-version", pointer: "/imageLayoutVersion" });
  await unlink(join(dir, "oci-layout"));
  await assertProblem([dir], { rule: "layout-missing" });
  await unlink(join(dir, "index.json"));
  await assertProblem([dir], { rule: "index-missing" });
});

test("a layer with the same path twice (./a then a/): layer-duplicate-path", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const tar = await buildTar([
    { name: "./etc", type: "directory" },
    { name: "etc/", type: "directory" },
    { name: "x", content: "1" },
  ]);
  const layer = await replaceLayer(dir, 0, tar);
  const report = await assertProblem([dir], { rule: "layer-duplicate-path", where: layer.digest, message: /"etc"/ });
  assert.equal(report.errors.length, 1, JSON.stringify(report.errors));
});

test("unsafe tar entries: ../ names, a bad whiteout, a hard link out of the root", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const tar = await buildTar([
    { name: "../../escape", content: "x" },
    { name: "d/.wh..", content: "" },
    { name: "l", type: "link", linkname: "../../etc/passwd" },
  ]);
  const layer = await replaceLayer(dir, 1, tar);
  const { report } = await validate([dir]);
  const rules = report.errors
    .filter((e) => e.where === layer.digest)
    .map((e) => e.rule)
    .sort();
  assert.deepEqual(rules, ["layer-link-unsafe", "layer-path-unsafe", "layer-whiteout-invalid"]);
});

test("a manifest blob with duplicate keys: json-duplicate-key at that blob", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { manifest } = await readImage(dir);
  const text = JSON.stringify(manifest).replace('"schemaVersion":2', '"schemaVersion":2,"schemaVersion":2');
  const descriptor = await replaceManifest(dir, text);
  await assertProblem([dir], { rule: "json-duplicate-key", where: descriptor.digest, pointer: "/schemaVersion" });
});

test("an index.json nested 100,000 deep: json-too-deep, no crash", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  await writeIndex(dir, `{"schemaVersion":2,"manifests":[],"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
  await assertProblem([dir], { rule: "json-too-deep", where: join(dir, "index.json") });
});

test("an index entry whose mediaType says index for a manifest: media-type-mismatch", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const index = await readIndex(dir);
  index.manifests[0]!.mediaType = MediaType.ociIndex;
  await writeIndex(dir, index);
  await assertProblem([dir], { rule: "media-type-mismatch", where: index.manifests[0]!.digest, pointer: "/mediaType" });
});

test("unknown layer media types and unreferenced blobs are warnings: still exit 0", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { manifest } = await readImage(dir);
  await replaceManifest(dir, {
    ...manifest,
    layers: [manifest.layers[0]!, { ...manifest.layers[1]!, mediaType: "application/vnd.example.blob" }],
  });
  const stray = await storeBlob(dir, "stray", "text/plain");
  const report = await assertValid([dir]);
  const warnings = report.warnings.map((w) => `${w.rule} ${w.where}`);
  assert.ok(warnings.includes(`blob-unreferenced ${stray.digest}`), warnings.join("\n"));
  assert.ok(
    report.warnings.some((w) => w.rule === "media-type-unknown" && w.pointer === "/layers/1/mediaType"),
    warnings.join("\n"),
  );
});

test("a tag that is not in the layout is an error listing the refs", async (t) => {
  const dir = await skopeoBase(t);
  if (!dir) return;
  await assertProblem([`${dir}:nope`], { rule: "ref-unknown", message: /app/ });
});

test("human output: one line per problem with where, pointer and rule, and a summary", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { entry, manifest } = await readImage(dir);
  await unlink(blobPath(dir, manifest.layers[0]!.digest));
  const result = await runOciImage(["validate", dir]);
  assert.equal(result.status, 1);
  assert.match(
    result.stdout,
    new RegExp(
      `^error: ${entry.digest} /layers/0: blob ${manifest.layers[0]!.digest} is not in the layout.*\\[blob-missing\\]$`,
      "m",
    ),
  );
  assert.match(result.stdout, /: INVALID \(layout: 1 ref, \d+ blobs?, 1 layer read; 1 error, \d+ warnings?\)$/m);
  const quiet = await runOciImage(["validate", "-q", dir]);
  assert.equal(quiet.status, 1);
  assert.equal(quiet.stdout.trim().split("\n").length, 1, quiet.stdout);
  assert.equal(quiet.stderr, "");
});

test("a layer blob that is not gzip, and a gzip of a truncated tar: layer-compression, layer-tar-invalid", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { manifest } = await readImage(dir);
  const notGzip = await storeBlob(dir, "this is not gzip data at all", MediaType.ociLayerGzip);
  const tar = await buildTar([{ name: "big", content: "x".repeat(5000) }]);
  const { compress } = await import("../helpers/image-builder.js");
  const truncatedTar = await storeBlob(dir, await compress(tar.subarray(0, 1500), "gzip"), MediaType.ociLayerGzip);
  await replaceManifest(dir, { ...manifest, layers: [notGzip, truncatedTar] });
  const { status, report } = await validate([dir]);
  assert.equal(status, 1);
  const rules = report.errors.map((e) => `${e.where} ${e.rule}`);
  assert.ok(rules.includes(`${notGzip.digest} layer-compression`), rules.join("\n"));
  assert.ok(rules.includes(`${truncatedTar.digest} layer-tar-invalid`), rules.join("\n"));
});

test("zstd and uncompressed layers are read and their diff_ids checked", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const { writeTestImage } = await import("../helpers/image-builder.js");
  await writeTestImage(dir, {
    tag: "z",
    compression: "zstd",
    layers: [[{ name: "a", content: "zstd" }], [{ name: "b", content: "more" }]],
  });
  await writeTestImage(dir, { tag: "plain", compression: "none", layers: [[{ name: "c", content: "plain" }]] });
  const report = await assertValid([dir]);
  assert.equal(report.checked[0]!.layers, 3);
  const config = await replaceConfig(dir, (c) => ({
    ...c,
    rootfs: { ...c.rootfs, diff_ids: [`sha256:${"1".repeat(64)}`, ...c.rootfs.diff_ids.slice(1)] },
  }));
  await assertProblem([dir], { rule: "layer-diff-id", where: config.digest, pointer: "/rootfs/diff_ids/0" });
});

test("an index.json pointing at a nested image index: both images are walked and checked", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const { writeTestImage } = await import("../helpers/image-builder.js");
  const amd = await writeTestImage(dir, { tag: "amd", layers: [[{ name: "a", content: "amd64" }]] });
  const arm = await writeTestImage(dir, {
    tag: "arm",
    layers: [[{ name: "a", content: "arm64" }]],
    config: { architecture: "arm64" },
  });
  const nested = await storeBlob(
    dir,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        { ...amd.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
        { ...arm.manifestDescriptor, platform: { os: "linux", architecture: "arm64" } },
      ],
    }),
    MediaType.ociIndex,
  );
  await writeIndex(dir, {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...nested, annotations: { "org.opencontainers.image.ref.name": "multi" } }],
  });
  const report = await assertValid([dir]);
  assert.equal(report.checked[0]!.layers, 2);
  assert.deepEqual(report.warnings, []);
  // A child manifest missing from the nested index is named with the index's digest and pointer.
  await unlink(blobPath(dir, arm.manifestDescriptor.digest));
  await assertProblem([dir], { rule: "blob-missing", where: nested.digest, pointer: "/manifests/1" });
});

test("a blob that is a directory, not a file: blob-not-file", async (t) => {
  const dir = await brokenCopy(t);
  if (!dir) return;
  const { entry, manifest } = await readImage(dir);
  const path = blobPath(dir, manifest.config.digest);
  await unlink(path);
  await mkdir(path);
  await assertProblem([dir], { rule: "blob-not-file", where: entry.digest, pointer: "/config" });
});
