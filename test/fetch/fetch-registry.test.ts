/** `oci-image fetch` against a real registry (docker-registry), images pushed by skopeo. */
import assert from "node:assert/strict";
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import { formatPlatform, hostPlatform } from "../../src/image/platform.js";
import type { ImageIndex, ImageManifest } from "../../src/image/types.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { toolPath, inCI } from "../helpers/tools.js";
import { listBlobs, pushTestImages, snapshotTree, type PushedImages } from "./fixtures.js";
import { checkWithPeers } from "./peers.js";

let registry: StartedRegistry | undefined;
let images: PushedImages;

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo")) {
    if (inCI()) throw new Error("docker-registry and skopeo are needed in CI");
    process.stderr.write("\n*** SKIPPING fetch registry tests: docker-registry or skopeo missing ***\n");
    return;
  }
  registry = await startRegistry();
  images = await pushTestImages(registry);
});

after(async () => {
  await registry?.stop();
});

function ready(t: { skip(message: string): void }): StartedRegistry | undefined {
  if (!registry) t.skip("no registry");
  return registry;
}

interface FetchJson {
  ok: boolean;
  reference: string;
  digest: string;
  mediaType: string;
  platform: string;
  ref: string | null;
  sourceDigest: string;
  blobs: { fetched: number; skipped: number; bytes: number };
}

async function fetchJson(args: string[]): Promise<FetchJson> {
  const result = await runOciImage(["fetch", "--json", ...args]);
  assert.equal(result.status, 0, `fetch ${args.join(" ")}: ${result.stderr}`);
  return JSON.parse(result.stdout) as FetchJson;
}

async function readIndex(layout: string): Promise<ImageIndex> {
  return JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as ImageIndex;
}

async function readBlobJson<T>(layout: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(join(layout, "blobs", "sha256", digest.slice(7)), "utf8")) as T;
}

test("an OCI image of several layers is fetched byte for byte, then not downloaded again", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const first = await fetchJson([`${r.host}/${images.oci}`, layout]);
  assert.equal(first.digest, images.digests.oci, "an OCI manifest keeps its digest");
  assert.equal(first.mediaType, MediaType.ociManifest);
  assert.equal(first.reference, `${r.host}/${images.oci}`);
  assert.equal(first.ref, "oci");
  assert.equal(first.platform, "linux/amd64");
  assert.deepEqual({ fetched: first.blobs.fetched, skipped: first.blobs.skipped }, { fetched: 4, skipped: 0 });
  assert.ok(first.blobs.bytes > images.bigLayerSize);
  for (const digest of images.blobDigests) await stat(join(layout, "blobs", "sha256", digest.slice(7)));
  const index = await readIndex(layout);
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.annotations?.["org.opencontainers.image.ref.name"], "oci");
  assert.equal(index.manifests[0]!.annotations?.["io.containerd.image.name"], `${r.host}/${images.oci}`);
  await checkWithPeers(t, layout, "oci");

  const indexBytes = await readFile(join(layout, "index.json"));
  const again = await runOciImage(["fetch", "--json", `${r.host}/${images.oci}`, layout]);
  assert.equal(again.status, 0, again.stderr);
  const second = JSON.parse(again.stdout) as FetchJson;
  assert.deepEqual(second.blobs, { fetched: 0, skipped: 4, bytes: 0 });
  assert.doesNotMatch(again.stderr, /replaced/, "the same image again replaces nothing");
  assert.deepEqual(await readFile(join(layout, "index.json")), indexBytes, "index.json is left as it was");

  // Another image under the same ref name replaces the entry, and says so.
  const other = await runOciImage(["fetch", `${r.host}/${images.docker}`, `${layout}:oci`]);
  assert.equal(other.status, 0, other.stderr);
  assert.match(other.stderr, /replaced ref "oci" \(was sha256:/);
  assert.equal((await readIndex(layout)).manifests.length, 1, "the same ref is replaced, not added");
});

test("a Docker schema 2 image becomes an OCI image; its blobs keep their bytes", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const result = await fetchJson([`${r.host}/${images.docker}`, `${layout}:converted`]);
  assert.equal(result.sourceDigest, images.digests.docker);
  assert.notEqual(result.digest, images.digests.docker, "the manifest changed, so did its digest");
  assert.equal(result.mediaType, MediaType.ociManifest);
  assert.equal(result.ref, "converted");
  const manifest = await readBlobJson<ImageManifest>(layout, result.digest);
  assert.equal(manifest.mediaType, MediaType.ociManifest);
  assert.equal(manifest.config.mediaType, MediaType.ociConfig);
  assert.deepEqual([...new Set(manifest.layers.map((layer) => layer.mediaType))], [MediaType.ociLayerGzip]);
  assert.deepEqual([manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)], images.blobDigests);
  await checkWithPeers(t, layout, "converted");
});

test("an OCI index: the host's platform by default, another with --platform (normalised)", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const pushedIndex = JSON.parse(
    await (await fetch(`${r.url}/v2/test/app/manifests/index`, { headers: { accept: MediaType.ociIndex } })).text(),
  ) as ImageIndex;
  const own = formatPlatform(hostPlatform());
  if (own === "linux/amd64" || own === "linux/arm64") {
    const host = await fetchJson([`${r.host}/${images.ociIndex}`, `${layout}:host`]);
    assert.equal(host.platform, own === "linux/amd64" ? "linux/amd64" : "linux/arm64/v8");
    assert.equal(host.digest, pushedIndex.manifests[own === "linux/amd64" ? 0 : 1]!.digest);
  }
  for (const platform of ["linux/arm64", "linux/arm64/v8", "linux/aarch64"]) {
    const arm = await fetchJson(["--platform", platform, `${r.host}/${images.ociIndex}`, `${layout}:arm`]);
    assert.equal(arm.digest, pushedIndex.manifests[1]!.digest, platform);
    assert.equal(arm.platform, "linux/arm64/v8");
  }
  const entry = (await readIndex(layout)).manifests.find(
    (m) => m.annotations?.["org.opencontainers.image.ref.name"] === "arm",
  );
  assert.deepEqual(entry?.platform, { os: "linux", architecture: "arm64", variant: "v8" });
  await checkWithPeers(t, layout, "arm");
});

test("a Docker manifest list with --platform all becomes an OCI index holding every image", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const result = await fetchJson(["--platform", "all", `${r.host}/${images.dockerList}`, `${layout}:all`]);
  assert.equal(result.platform, "all");
  assert.equal(result.mediaType, MediaType.ociIndex);
  assert.equal(result.sourceDigest, images.digests.dockerList);
  assert.notEqual(result.digest, images.digests.dockerList);
  const index = await readBlobJson<ImageIndex>(layout, result.digest);
  assert.equal(index.mediaType, MediaType.ociIndex);
  assert.equal(index.manifests.length, 2);
  for (const child of index.manifests) {
    assert.equal(child.mediaType, MediaType.ociManifest);
    const manifest = await readBlobJson<ImageManifest>(layout, child.digest);
    assert.equal(manifest.mediaType, MediaType.ociManifest);
    for (const blob of [manifest.config, ...manifest.layers])
      await stat(join(layout, "blobs", "sha256", blob.digest.slice(7)));
  }
  assert.deepEqual(
    index.manifests.map((child) => child.platform?.architecture),
    ["amd64", "arm64"],
  );
  await checkWithPeers(t, layout, "all", { index: true });
});

test("an OCI index with --platform all is kept byte for byte", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const result = await fetchJson(["-p", "all", `${r.host}/${images.ociIndex}`, layout]);
  assert.equal(result.digest, images.digests.ociIndex);
  assert.equal(result.blobs.fetched, 4, "two configs and two layers");
  await checkWithPeers(t, layout, "index", { index: true });
});

test("a Docker manifest list narrowed to one platform", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const result = await fetchJson(["-p", "linux/arm64", `${r.host}/${images.dockerList}`, layout]);
  assert.equal(result.platform, "linux/arm64/v8");
  assert.equal(result.mediaType, MediaType.ociManifest);
  await checkWithPeers(t, layout, "list");
});

test("no image for the platform: the error lists the ones there are, the layout is untouched", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  await fetchJson([`${r.host}/${images.oci}`, layout]);
  const before = await snapshotTree(layout);
  const result = await runOciImage(["fetch", "-p", "linux/s390x", `${r.host}/${images.ociIndex}`, layout]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /no image for linux\/s390x; available: linux\/amd64, linux\/arm64\/v8/);
  assert.deepEqual(await snapshotTree(layout), before);
});

test("by digest: no ref unless one is given; tag and digest together", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const byDigest = await fetchJson([`${r.host}/test/app@${images.digests.oci}`, layout]);
  assert.equal(byDigest.ref, null);
  assert.equal(byDigest.digest, images.digests.oci);
  assert.equal(byDigest.reference, `${r.host}/test/app@${images.digests.oci}`);
  const index = await readIndex(layout);
  assert.equal(index.manifests[0]!.annotations?.["org.opencontainers.image.ref.name"], undefined);
  const both = await fetchJson([`${r.host}/test/app:oci@${images.digests.oci}`, `${layout}:pinned`]);
  assert.equal(both.ref, "pinned");
  assert.equal(both.reference, `${r.host}/test/app:oci@${images.digests.oci}`);
  // A digest the registry doesn't have.
  const missing = `sha256:${"0".repeat(64)}`;
  const result = await runOciImage(["fetch", `${r.host}/test/app@${missing}`, layout]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /MANIFEST_UNKNOWN|404/);
});

test("bad input: one-line errors naming what was asked, exit 1 (2 for malformed), layout unchanged", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  await fetchJson([`${r.host}/${images.oci}`, layout]);
  const before = await snapshotTree(layout);
  const cases: { args: string[]; status: number; pattern: RegExp }[] = [
    {
      args: [`${r.host}/test/app:no-such-tag`],
      status: 1,
      pattern: new RegExp(`test/app:no-such-tag.*404 Not Found \\(MANIFEST_UNKNOWN`),
    },
    {
      args: [`${r.host}/no/such-repo:v1`],
      status: 1,
      pattern: /no\/such-repo:v1.*404 Not Found \((NAME_UNKNOWN|MANIFEST_UNKNOWN)/,
    },
    {
      args: ["--retries", "0", "127.0.0.1:1/test/app:v1"],
      status: 1,
      pattern: /127\.0\.0\.1:1\/test\/app:v1.*connection refused/,
    },
    { args: ["UPPER/Case:v1"], status: 2, pattern: /invalid image reference "UPPER\/Case:v1"/ },
    { args: [`${r.host}/test/app:bad:tag`], status: 2, pattern: /invalid image reference/ },
    { args: [`${r.host}/test/app@sha256:../../etc/passwd`], status: 2, pattern: /invalid image reference/ },
  ];
  for (const { args, status, pattern } of cases) {
    const result = await runOciImage(["fetch", ...args, layout]);
    assert.equal(result.status, status, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stdout, "");
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.equal(result.stderr.split("\n").filter((line) => line.startsWith("oci-image:")).length, 1, result.stderr);
  }
  assert.deepEqual(await snapshotTree(layout), before);
  // A failed fetch into a new directory leaves nothing behind.
  const fresh = join(await tempDir(t), "never");
  const failed = await runOciImage(["fetch", `${r.host}/test/app:no-such-tag`, fresh]);
  assert.equal(failed.status, 1);
  await assert.rejects(stat(fresh));
  // --json failures are one document on stdout.
  const json = await runOciImage(["fetch", "--json", `${r.host}/test/app:no-such-tag`, layout]);
  assert.equal(json.status, 1);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; errors: { code: string }[] };
  assert.equal(parsed.ok, false);
  assert.equal(parsed.errors[0]!.code, "MANIFEST_UNKNOWN");
});

test("two fetches into one layout at the same time both end up in it", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const [a, b, c] = await Promise.all([
    runOciImage(["fetch", `${r.host}/${images.oci}`, `${layout}:a`]),
    runOciImage(["fetch", `${r.host}/${images.docker}`, `${layout}:b`]),
    runOciImage(["fetch", "-p", "linux/arm64", `${r.host}/${images.ociIndex}`, `${layout}:c`]),
  ]);
  for (const result of [a, b, c]) assert.equal(result.status, 0, result.stderr);
  const refs = (await readIndex(layout)).manifests
    .map((m) => m.annotations?.["org.opencontainers.image.ref.name"])
    .sort();
  assert.deepEqual(refs, ["a", "b", "c"]);
  const leftovers = (await readdir(layout)).filter(
    (name) => name.startsWith(".oci-image-tmp-") || name.endsWith(".lock"),
  );
  assert.deepEqual(leftovers, []);
  assert.ok((await listBlobs(layout)).length >= 6);
});

test("output: plain lines on a non-TTY stderr, nothing with --quiet, a result line on stdout", async (t) => {
  const r = ready(t);
  if (!r) return;
  const layout = join(await tempDir(t), "images");
  const plain = await runOciImage(["fetch", `${r.host}/${images.oci}`, layout]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(
    plain.stderr
      .trim()
      .split("\n")
      .filter((line) => /fetched \(/.test(line)).length,
    4,
    plain.stderr,
  );
  assert.ok(!/\u001b\[/.test(plain.stderr), "no terminal escapes when stderr is not a TTY");
  assert.match(plain.stdout, new RegExp(`${images.digests.oci}`));
  const quiet = await runOciImage(["fetch", "-q", `${r.host}/${images.oci}`, layout]);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, "");
});
