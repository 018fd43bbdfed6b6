/**
 * fetch against registries that answer badly: trickling transfers, manifests
 * that are HTML, cut, ambiguous or gzip-encoded, blobs longer than declared,
 * configs that are not image configs, a single image of another platform, and
 * the digest to pin when an image was converted.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { gzipSync } from "node:zlib";
import { ImageLayout } from "../../src/layout/layout.js";
import { RegistryClient } from "../../src/registry/client.js";
import { pullImage } from "../../src/registry/pull.js";
import { parseReference } from "../../src/registry/reference.js";
import { hasStackTrace, runOciImage, type CliResult } from "../helpers/cli.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { buildTar } from "../helpers/image-builder.js";
import { pushRawImage, startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { pushTestImages, snapshotTree, type PushedImages } from "./fixtures.js";

let registry: StartedRegistry | undefined;
let proxy: FaultProxy;
let images: PushedImages;
let manifestBytes: Buffer;
let layers: { digest: string; size: number }[];
let configDigest: string;

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo")) {
    if (inCI()) throw new Error("docker-registry and skopeo are needed in CI");
    process.stderr.write("\n*** SKIPPING hostile registry tests: docker-registry or skopeo missing ***\n");
    return;
  }
  registry = await startRegistry();
  images = await pushTestImages(registry, "test/app");
  proxy = await startFaultProxy(registry.url);
  const answer = await fetch(`${registry.url}/v2/test/app/manifests/oci`, { headers: { accept: OCI_MANIFEST } });
  manifestBytes = Buffer.from(await answer.arrayBuffer());
  const manifest = JSON.parse(manifestBytes.toString("utf8")) as { config: { digest: string }; layers: typeof layers };
  layers = manifest.layers;
  configDigest = manifest.config.digest;
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
});

/** Runs fetch through the proxy with quick retries and a 1 s timeout unless given. */
async function fetchVia(t: TestContext, rules: FaultRule[], args: string[]): Promise<CliResult & { layout: string }> {
  proxy.reset(rules);
  const layout = join(await tempDir(t), "images");
  const timeout = args.includes("--timeout") ? [] : ["--timeout", "1"];
  const result = await runOciImage(
    ["fetch", ...timeout, ...args.map((arg) => arg.replace("HOST", proxy.host)), layout],
    {
      env: { OCI_IMAGE_RETRY_DELAY_MS: "20", DOCKER_CONFIG: await tempDir(t, "oci-image-docker-config-") },
    },
  );
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  return { ...result, layout };
}

const blobPath = (digest: string) => new RegExp(`/blobs/${digest}$`);
const manifests = /\/manifests\//;
const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "";

test("a trickling blob counts as stalled and resumes; a trickling manifest fails within seconds", async (t) => {
  if (!registry) return t.skip("no registry");
  const big = layers.reduce((a, b) => (a.size > b.size ? a : b));
  const resumed = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(big.digest), fault: { kind: "trickle", afterBytes: 50_000 }, times: 1 }],
    ["HOST/test/app:oci"],
  );
  assert.equal(resumed.status, 0, resumed.stderr);
  const at = /transfer slower than 1 KiB\/s \(\d+ bytes in 1 s\) at byte (\d+) of/.exec(resumed.stderr)?.[1];
  assert.ok(at && Number(at) >= 50_000, resumed.stderr);
  const asked = proxy.requests.filter((request) => blobPath(big.digest).test(request.path));
  assert.equal(asked[1]?.headers.range, `bytes=${at}-`);

  const started = Date.now();
  const failed = await fetchVia(
    t,
    [{ method: "GET", path: manifests, fault: { kind: "trickle", bytesPerSecond: 1 } }],
    ["--retries", "1", "--timeout", "2", "HOST/test/app:oci"],
  );
  assert.equal(failed.status, 1);
  assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);
  const manifestFrom = /fetching manifest 127\.0\.0\.1:\d+\/test\/app:oci from 127\.0\.0\.1:\d+: /;
  assert.match(
    lastLine(failed.stderr),
    new RegExp(`${manifestFrom.source}transfer slower than 1 KiB/s .*\\(after 2 attempts\\)`),
  );
});

const badManifests: [string, Buffer, Record<string, string>, RegExp][] = [
  [
    "an HTML page",
    Buffer.from("<!DOCTYPE html><html><body>Please log in</body></html>"),
    { "content-type": "text/html" },
    /document is not valid JSON.*an HTML page, Content-Type: text\/html/,
  ],
  ["truncated JSON", Buffer.from('{"schemaVersion":2,"config":{"mediaT'), {}, /document is not valid JSON/],
  [
    "a duplicate key",
    Buffer.from(`{"schemaVersion":2,"config":{},"config":{},"layers":[]}`),
    {},
    /duplicate key "config"/,
  ],
  ["gzip-encoded", Buffer.alloc(0), { "content-encoding": "gzip" }, /gzip-encoded, Content-Encoding: gzip/],
];

for (const [name, body, headers, pattern] of badManifests) {
  test(`a manifest that is ${name} names the image and the registry; nothing is stored`, async (t) => {
    if (!registry) return t.skip("no registry");
    const bytes = name === "gzip-encoded" ? gzipSync(manifestBytes) : body;
    const fault = {
      kind: "status" as const,
      status: 200,
      headers: { "content-type": OCI_MANIFEST, ...headers },
      body: bytes,
    };
    const result = await fetchVia(t, [{ method: "GET", path: manifests, fault }], ["HOST/test/app:oci"]);
    assert.equal(result.status, 1);
    const line = lastLine(result.stderr);
    assert.match(line, /^oci-image: fetching manifest 127\.0\.0\.1:\d+\/test\/app:oci from 127\.0\.0\.1:\d+: /);
    assert.match(line, pattern);
    assert.equal((await snapshotTree(result.layout)).size, 0, "no layout written");
  });
}

test("a blob error names the blob once", async (t) => {
  if (!registry) return t.skip("no registry");
  const config = await (await fetch(`${registry.url}/v2/test/app/blobs/${configDigest}`)).arrayBuffer();
  const longer = { kind: "status" as const, status: 200, body: Buffer.concat([Buffer.from(config), Buffer.from("x")]) };
  const tooLong = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(configDigest), fault: longer }],
    ["--retries", "1", "HOST/test/app:oci"],
  );
  assert.equal(tooLong.status, 1);
  const line = lastLine(tooLong.stderr);
  assert.match(line, /more than the \d+ bytes its descriptor declares \(2 attempts\); nothing of it was kept/);
  assert.equal(line.split("fetching blob").length, 2, line);

  const reset = await fetchVia(
    t,
    [{ method: "GET", path: blobPath(configDigest), fault: { kind: "reset", afterBytes: 10 } }],
    ["--retries", "0", "HOST/test/app:oci"],
  );
  assert.equal(reset.status, 1);
  assert.match(lastLine(reset.stderr), /fetching blob sha256:\w+ of .* from 127\.0\.0\.1:\d+ \(at byte 10 of \d+\): /);
  assert.equal(lastLine(reset.stderr).split("fetching blob").length, 2, reset.stderr);
});

test("a config that is not an image config, or lists the wrong number of diff_ids, is refused; no ref", async (t) => {
  if (!registry) return t.skip("no registry");
  const layer = {
    bytes: gzipSync(await buildTar([{ name: "a.txt", content: "a\n" }])),
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  };
  const image = {
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [`sha256:${"a".repeat(64)}`] },
  };
  const cases: [string, Buffer, RegExp][] = [
    ["text", Buffer.from("this is not JSON"), /config sha256:\w+ is not an image config: document is not valid JSON/],
    ["other", Buffer.from('{"hello":"world"}'), /is not an image config: "os" and "architecture" must be strings/],
    [
      "two",
      Buffer.from(
        JSON.stringify({
          ...image,
          rootfs: { type: "layers", diff_ids: [...image.rootfs.diff_ids, image.rootfs.diff_ids[0]] },
        }),
      ),
      /lists 2 diff_ids, but the manifest has 1 layer$/,
    ],
  ];
  for (const [tag, config, pattern] of cases) {
    await pushRawImage(registry, "test/bad", tag, { config, layers: [layer] });
    const result = await fetchVia(t, [], [`HOST/test/bad:${tag}`]);
    assert.equal(result.status, 1, `${tag}: ${result.stderr}`);
    assert.match(lastLine(result.stderr), pattern);
    const index = await readFile(join(result.layout, "index.json"), "utf8").catch(() => '{"manifests":[]}');
    assert.deepEqual((JSON.parse(index) as { manifests: unknown[] }).manifests, [], `${tag}: nothing named`);
  }
  await pushRawImage(registry, "test/bad", "good", { config: Buffer.from(JSON.stringify(image)), layers: [layer] });
  assert.equal(
    (await fetchVia(t, [], ["HOST/test/bad:good"])).status,
    0,
    "the same image with a fitting config passes",
  );
});

test("--platform on a single-platform image: refused unless it is that platform", async (t) => {
  if (!registry) return t.skip("no registry");
  const other = await fetchVia(t, [], ["--platform", "linux/arm64", "HOST/test/app:oci"]);
  assert.equal(other.status, 1);
  assert.match(
    lastLine(other.stderr),
    /test\/app:oci is a single-platform image for linux\/amd64, not linux\/arm64 \(without --platform it is fetched as it is\)$/,
  );
  const index = await readFile(join(other.layout, "index.json"), "utf8").catch(() => '{"manifests":[]}');
  assert.deepEqual((JSON.parse(index) as { manifests: unknown[] }).manifests, []);
  const same = await fetchVia(t, [], ["--platform", "linux/amd64", "HOST/test/app:oci"]);
  assert.equal(same.status, 0, same.stderr);
});

test("a converted Docker image prints the registry's digest too; an OCI image only its own", async (t) => {
  if (!registry) return t.skip("no registry");
  const docker = await fetchVia(t, [], ["HOST/test/app:docker"]);
  assert.equal(docker.status, 0, docker.stderr);
  assert.match(docker.stdout, new RegExp(`sha256:\\w+ \\(linux/amd64; registry digest ${images.digests.docker};`));
  const oci = await fetchVia(t, [], ["HOST/test/app:oci"]);
  assert.equal(oci.status, 0, oci.stderr);
  assert.ok(oci.stdout.includes(images.digests.oci) && !oci.stdout.includes("registry digest"), oci.stdout);
});

test("a reference with a scheme is a usage error that says so", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(t, [], ["https://HOST/test/app:oci"]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /references take no scheme: write "127\.0\.0\.1:\d+\/test\/app:oci"/);
});

test("blobsPlanned names config and layers of each image before any of them downloads", async (t) => {
  if (!registry) return t.skip("no registry");
  const layout = await ImageLayout.openOrCreate(join(await tempDir(t), "images"));
  const client = new RegistryClient({ registry: registry.host });
  t.after(() => client.close());
  const events: string[] = [];
  const planned: string[][] = [];
  await pullImage({
    client,
    reference: parseReference(`${registry.host}/${images.ociIndex}`),
    sink: layout,
    platform: "all",
    events: {
      blobsPlanned: (descriptors) => {
        planned.push(descriptors.map((descriptor) => descriptor.digest));
        events.push(...descriptors.map((descriptor) => `planned ${descriptor.digest}`));
      },
      blobStarted: (descriptor) => {
        events.push(`started ${descriptor.digest}`);
        return { update: () => {}, done: () => {}, failed: () => {} };
      },
    },
  });
  assert.equal(planned.length, 2, "once per image of the index");
  assert.ok(
    planned.every((digests) => digests.length === 2),
    "a config and a layer each",
  );
  for (const digest of planned.flat()) {
    const started = events.indexOf(`started ${digest}`);
    assert.ok(started === -1 || events.indexOf(`planned ${digest}`) < started, `${digest} planned first`);
  }
  assert.ok(events.some((event) => event.startsWith("started")));
});
