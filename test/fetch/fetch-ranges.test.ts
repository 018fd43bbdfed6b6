/**
 * A large blob fetched as parallel Range requests, through the fault proxy in
 * front of a real registry: the ranges asked for, the bytes stored, and the
 * faults: Range ignored, another Content-Range, a range cut mid-way, a wrong
 * byte in one range, Ctrl-C in the middle. The blob is asked for whole first
 * and split only when that stream is slow, so the proxy paces the big blob
 * (as one connection over a long path) wherever the split is what is tested.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { BIN, runOciImage, type CliResult } from "../helpers/cli.js";
import type { Pace } from "../helpers/fault-pace.js";
import { startFaultProxy, type FaultProxy, type FaultRule, type SeenRequest } from "../helpers/fault-proxy.js";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { buildTar, writeTestImage } from "../helpers/image-builder.js";
import { pushRawImage, startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { listBlobs } from "./fixtures.js";
import { checkWithPeers } from "./peers.js";

const BIG_BYTES = 40 * 1024 * 1024;

let registry: StartedRegistry | undefined;
let proxy: FaultProxy;
let work: string;
/** The uncompressed layer blob (a tar of one file of random bytes) and its digest. */
let big: { bytes: Buffer; digest: string };

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo")) {
    if (inCI()) throw new Error("docker-registry and skopeo are needed in CI");
    process.stderr.write("\n*** SKIPPING range fetch tests: docker-registry or skopeo missing ***\n");
    return;
  }
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.url);
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  work = await mkdtemp(join(tmpdir(), "oci-image-ranges-"));
  // Pushed through the API as they are (skopeo would compress the uncompressed layer on its way).
  const image = await writeTestImage(join(work, "source"), {
    layers: [[{ name: "big.bin", content: randomBytes(BIG_BYTES) }], [{ name: "small.txt", content: "small\n" }]],
    compression: "none",
  });
  big = { bytes: image.layerTars[0]!, digest: image.manifest.layers[0]!.digest };
  const config = Buffer.from(JSON.stringify(image.config));
  const layers = image.layerTars.map((bytes) => ({ bytes, mediaType: MediaType.ociLayer }));
  await pushRawImage(registry, "test/ranges", "big", { config, layers });
  const tar = await buildTar([{ name: "a.txt", content: "a\n" }]);
  const smallConfig = {
    ...image.config,
    rootfs: { type: "layers", diff_ids: [digestOf(tar)] },
    history: [{ created_by: "test" }],
  };
  await pushRawImage(registry, "test/ranges", "small", {
    config: Buffer.from(JSON.stringify(smallConfig)),
    layers: [{ bytes: tar, mediaType: MediaType.ociLayer }],
  });
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (work) await import("node:fs/promises").then(({ rm }) => rm(work, { recursive: true, force: true }));
});

const bigPath = () => new RegExp(`/blobs/${big.digest}$`);
/** One connection's rate for the big blob: one stream would take 4 s, so the fetch splits it. */
const slowLink = (): Pace => ({ path: bigPath(), bytesPerSecond: 10_000_000 });
const bigRequests = (): SeenRequest[] => proxy.requests.filter((request) => bigPath().test(request.path));

async function fetchVia(t: TestContext, rules: FaultRule[], args: string[], layout?: string, pace?: Pace) {
  proxy.reset(rules, pace);
  const target = layout ?? join(await tempDir(t), "images");
  const result: CliResult = await runOciImage(
    ["fetch", "--timeout", "2", ...args.map((arg) => arg.replace("HOST", proxy.host)), target],
    { env: { OCI_IMAGE_RETRY_DELAY_MS: "20" } },
  );
  return { ...result, layout: target };
}

async function storedBig(layout: string): Promise<Buffer> {
  return readFile(join(layout, "blobs", "sha256", big.digest.slice("sha256:".length)));
}

/** The byte spans asked for, sorted: [start, end] inclusive. */
function spansAsked(requests: SeenRequest[]): [number, number][] {
  return requests
    .map((request) => /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? "")!)
    .map((match) => [Number(match[1]), Number(match[2])] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/**
 * The first span asks for the whole blob; the parts split off it (the spans
 * starting after byte 0, less those named as resumed) cover the rest from where
 * the first stream stopped, each byte once.
 */
function assertSplitCoversOnce(spans: [number, number][], resumed: [number, number][] = []): void {
  assert.deepEqual(spans[0], [0, big.bytes.length - 1], "the blob is asked for whole first");
  const parts = spans.filter((span) => span[0] > 0 && !resumed.includes(span));
  if (parts.length === 0) return;
  let next = parts[0]![0];
  for (const [start, end] of parts) {
    assert.equal(start, next, "no gap, no overlap");
    next = end + 1;
  }
  assert.equal(next, big.bytes.length);
}

async function tempFiles(layout: string): Promise<string[]> {
  return (await readdir(layout).catch(() => [] as string[])).filter((name) => name.startsWith(".oci-image-tmp-"));
}

test("a large blob comes as parallel ranges that cover it once, stored byte for byte", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(t, [], ["HOST/test/ranges:big"], undefined, slowLink());
  assert.equal(result.status, 0, result.stderr);
  const requests = bigRequests();
  assert.ok(requests.length >= 10, `parts of at most 4 MiB at first: ${requests.length} requests`);
  assertSplitCoversOnce(spansAsked(requests));
  assert.ok(spansAsked(requests)[1]![0] > 0, "split: the first stream stopped early");
  assert.ok((await storedBig(result.layout)).equals(big.bytes));
  const small = proxy.requests.filter((request) => /\/blobs\//.test(request.path) && !bigPath().test(request.path));
  assert.ok(
    small.length > 0 && small.every((request) => request.headers.range === undefined),
    "small blobs: one stream",
  );
  await checkWithPeers(t, result.layout, "big");

  const one = await fetchVia(t, [], ["--connections", "1", "HOST/test/ranges:big"]);
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(
    bigRequests().map((request) => request.headers.range),
    [undefined],
    "--connections 1: one stream",
  );
  assert.ok((await storedBig(one.layout)).equals(big.bytes));
});

test("a server that ignores Range: the blob comes as one stream", async (t) => {
  if (!registry) return t.skip("no registry");
  const result = await fetchVia(
    t,
    [{ method: "GET", path: bigPath(), fault: { kind: "ignore-range" } }],
    ["HOST/test/ranges:big"],
  );
  assert.equal(result.status, 0, result.stderr);
  const requests = bigRequests();
  assert.equal(requests.length, 2, "the first range, then one stream");
  assert.match(requests[0]!.headers.range ?? "", /^bytes=0-\d+$/);
  assert.equal(requests[1]!.headers.range, undefined);
  assert.ok((await storedBig(result.layout)).equals(big.bytes));
});

test("an answer with another Content-Range: the blob comes as one stream", async (t) => {
  if (!registry) return t.skip("no registry");
  const rules: FaultRule[] = [{ method: "GET", path: bigPath(), fault: { kind: "shift-content-range" }, times: 1 }];
  const result = await fetchVia(t, rules, ["HOST/test/ranges:big"]);
  assert.equal(result.status, 0, result.stderr);
  const requests = bigRequests();
  assert.equal(requests.length, 2, "the first range, then one stream");
  assert.equal(requests[0]!.fault, "shift-content-range");
  assert.equal(requests[1]!.headers.range, undefined);
  assert.ok((await storedBig(result.layout)).equals(big.bytes));
});

test("a range cut mid-way resumes alone from its last byte written", async (t) => {
  if (!registry) return t.skip("no registry");
  const rules: FaultRule[] = [
    { method: "GET", path: bigPath(), range: /^bytes=0-/, fault: { kind: "reset", afterBytes: 1_500_000 }, times: 1 },
  ];
  const result = await fetchVia(t, rules, ["HOST/test/ranges:big"]);
  assert.equal(result.status, 0, result.stderr);
  const requests = bigRequests();
  const cut = requests.find((request) => request.fault === "reset")!;
  const [, end] = /^bytes=0-(\d+)$/.exec(cut.headers.range!)!;
  assert.match(result.stderr, new RegExp(`\\(bytes 0-${end}\\): .* at byte \\d+ of \\d+; resuming`));
  const spans = spansAsked(requests);
  const resumed = spans.filter(([start]) => start > 0 && start <= 1_500_000);
  assert.equal(resumed.length, 1, "the cut part asked again once, from where it stopped");
  assert.equal(resumed[0]![1], Number(end));
  assertSplitCoversOnce(spans, resumed);
  assert.ok((await storedBig(result.layout)).equals(big.bytes));
});

test("a wrong byte in one range: digest mismatch, fetched again, then refused with nothing kept", async (t) => {
  if (!registry) return t.skip("no registry");
  const rules: FaultRule[] = [
    { method: "GET", path: bigPath(), range: /^bytes=0-/, fault: { kind: "corrupt", atByte: 1000 } },
  ];
  const result = await fetchVia(t, rules, ["--retries", "1", "HOST/test/ranges:big"], undefined, slowLink());
  assert.equal(result.status, 1);
  assert.match(result.stderr, /content digest is sha256:[0-9a-f]+, but its descriptor says .*downloading it again/);
  assert.match(result.stderr, new RegExp(`fetching blob ${big.digest}.*\\(2 attempts\\); nothing of it was kept`));
  const corrupted = bigRequests().filter((request) => request.fault === "corrupt");
  assert.equal(corrupted.length, 2, "one range in each of the two attempts");
  assert.ok(bigRequests().length > 4, "the other ranges came as they were");
  assert.ok(!(await listBlobs(result.layout)).includes(`sha256/${big.digest.slice(7)}`));
  assert.deepEqual(await tempFiles(result.layout), []);
});

test("Ctrl-C in the middle of a ranged blob exits 130 and leaves the layout valid", async (t) => {
  if (!registry) return t.skip("no registry");
  const layout = join(await tempDir(t), "images");
  assert.equal((await fetchVia(t, [], ["HOST/test/ranges:small"], layout)).status, 0);
  const indexBefore = await readFile(join(layout, "index.json"), "utf8");
  proxy.reset(
    [{ method: "GET", path: bigPath(), range: /^bytes=[1-9]/, fault: { kind: "stall", afterBytes: 60_000 } }],
    slowLink(),
  );
  const child = spawn(process.execPath, [BIN, "fetch", `${proxy.host}/test/ranges:big`, layout], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && bigRequests().filter((request) => request.fault === "stall").length < 2)
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.equal(await readFile(join(layout, "index.json"), "utf8"), indexBefore);
  assert.deepEqual(await tempFiles(layout), []);
  assert.ok(!(await listBlobs(layout)).includes(`sha256/${big.digest.slice(7)}`));
  await checkWithPeers(t, layout, "small");
});
