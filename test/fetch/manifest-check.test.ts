/** Fetched manifests: digest checks, media type vs Content-Type vs shape (CVE-2021-41190), schema 1, conversion. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { OciImageError } from "../../src/errors.js";
import { digestOf } from "../../src/image/digest.js";
import { convertDockerManifest, convertDockerManifestList } from "../../src/image/docker-to-oci.js";
import { MediaType } from "../../src/image/media-types.js";
import { checkManifest } from "../../src/registry/manifest-fetch.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: MediaType.dockerConfig, size: 10, digest: d("a") },
  layers: [
    { mediaType: MediaType.dockerLayerGzip, size: 20, digest: d("b") },
    { mediaType: MediaType.dockerForeignLayerGzip, size: 30, digest: d("c"), urls: ["https://example.com/l"] },
  ],
};
const bytesOf = (value: unknown) => Buffer.from(JSON.stringify(value));

function refused(bytes: Buffer, facts: Parameters<typeof checkManifest>[1], pattern: RegExp): void {
  assert.throws(
    () => checkManifest(bytes, facts),
    (error: unknown) => error instanceof OciImageError && pattern.test(error.message),
    String(pattern),
  );
}

test("a Docker manifest passes, typed by its own mediaType", () => {
  const bytes = bytesOf(dockerManifest);
  const result = checkManifest(bytes, {
    contentType: MediaType.dockerManifest,
    headerDigest: digestOf(bytes),
    where: "x",
  });
  assert.equal(result.kind, "manifest");
  assert.equal(result.mediaType, MediaType.dockerManifest);
  assert.equal(result.digest, digestOf(bytes));
});

test("an OCI manifest without mediaType takes the Content-Type's, or its shape's", () => {
  const { mediaType: _m, ...bare } = { ...dockerManifest, mediaType: undefined };
  const bytes = bytesOf(bare);
  assert.equal(
    checkManifest(bytes, { contentType: MediaType.ociManifest, where: "x" }).mediaType,
    MediaType.ociManifest,
  );
  assert.equal(checkManifest(bytes, { contentType: "application/json", where: "x" }).mediaType, MediaType.ociManifest);
  const index = bytesOf({ schemaVersion: 2, manifests: [] });
  assert.equal(checkManifest(index, { where: "x" }).kind, "index");
});

test("digests: Docker-Content-Digest, the digest asked for, the descriptor's size", () => {
  const bytes = bytesOf(dockerManifest);
  refused(bytes, { headerDigest: d("0"), where: "x" }, /Docker-Content-Digest says/);
  refused(bytes, { headerDigest: "sha256:../../x", where: "x" }, /not a valid digest/);
  refused(bytes, { askedDigest: d("0"), where: "x" }, /not the sha256:0+ asked for/);
  refused(bytes, { expected: { digest: digestOf(bytes), size: bytes.length + 1 }, where: "x" }, /descriptor declares/);
  assert.equal(checkManifest(bytes, { askedDigest: digestOf(bytes), where: "x" }).digest, digestOf(bytes));
});

test("CVE-2021-41190: ambiguous or mismatched documents are refused", () => {
  const both = bytesOf({ ...dockerManifest, manifests: [] });
  refused(both, { where: "x" }, /both "manifests".*and "config"\/"layers"/);
  refused(bytesOf(dockerManifest), { contentType: MediaType.ociManifest, where: "x" }, /Content-Type says/);
  refused(
    bytesOf({ ...dockerManifest, mediaType: MediaType.ociIndex }),
    { where: "x" },
    /says an index, but the document is shaped as a manifest/,
  );
  const { mediaType: _m, ...bare } = dockerManifest;
  refused(bytesOf(bare), { contentType: MediaType.ociIndex, where: "x" }, /shaped as a manifest/);
  refused(
    bytesOf(dockerManifest),
    { expected: { digest: digestOf(bytesOf(dockerManifest)), mediaType: MediaType.ociManifest }, where: "x" },
    /descriptor pointing at it says/,
  );
  refused(bytesOf({ schemaVersion: 2 }), { where: "x" }, /neither a manifest/);
  refused(bytesOf({ ...dockerManifest, mediaType: "text/html" }), { where: "x" }, /not a manifest or index type/);
  refused(Buffer.from('{"schemaVersion":2,"schemaVersion":2,"manifests":[]}'), { where: "x" }, /duplicate key/);
});

test("schema 1 is refused with a message that says so", () => {
  const v1 = bytesOf({ schemaVersion: 1, name: "x", tag: "y", fsLayers: [] });
  refused(v1, { contentType: MediaType.dockerManifestV1Signed, where: "x" }, /schema 1 manifest.*not supported/);
  refused(v1, { where: "x" }, /schema 1/);
});

test("Docker → OCI: media types mapped, digests and sizes kept, urls kept", () => {
  const oci = convertDockerManifest(dockerManifest);
  assert.deepEqual(oci, {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, size: 10, digest: d("a") },
    layers: [
      { mediaType: MediaType.ociLayerGzip, size: 20, digest: d("b") },
      { mediaType: MediaType.ociNondistributableLayerGzip, size: 30, digest: d("c"), urls: ["https://example.com/l"] },
    ],
  });
  const list = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifestList,
    manifests: [
      {
        mediaType: MediaType.dockerManifest,
        size: 5,
        digest: d("1"),
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        mediaType: MediaType.dockerManifest,
        size: 6,
        digest: d("2"),
        platform: { architecture: "arm64", os: "linux", variant: "v8" },
      },
    ],
  };
  const replaced = new Map([[d("1"), { mediaType: MediaType.ociManifest, digest: d("9"), size: 99 }]]);
  assert.deepEqual(convertDockerManifestList(list, replaced), {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { mediaType: MediaType.ociManifest, size: 99, digest: d("9"), platform: { architecture: "amd64", os: "linux" } },
      {
        mediaType: MediaType.ociManifest,
        size: 6,
        digest: d("2"),
        platform: { architecture: "arm64", os: "linux", variant: "v8" },
      },
    ],
  });
  assert.throws(
    () => convertDockerManifest({ ...dockerManifest, mediaType: MediaType.ociManifest }),
    /expected a Docker schema 2 manifest/,
  );
});
