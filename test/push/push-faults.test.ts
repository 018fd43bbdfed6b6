/** `oci-image push` through the fault proxy: cut uploads resume, 5xx and 429 are retried, bad input refused. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { spawn } from "node:child_process";
import { BIN, hasStackTrace, runOciImage, type CliResult } from "../helpers/cli.js";
import { CTRL_C, runOnTerminal } from "../helpers/pty.js";
import { startFaultProxy, type FaultProxy, type SeenRequest } from "../helpers/fault-proxy.js";
import { startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { buildPushLayouts, pushJson, type PushLayouts } from "./fixtures.js";

let registry: StartedRegistry | undefined;
let proxy: FaultProxy;
let layouts: PushLayouts;
let fixtureDir: string;
const ENV = { OCI_IMAGE_RETRY_DELAY_MS: "0" };
const CHUNK = 256 * 1024;

before(async () => {
  if (!toolPath("docker-registry")) {
    if (inCI()) throw new Error("docker-registry is needed in CI");
    process.stderr.write("\n*** SKIPPING push fault tests: docker-registry missing ***\n");
    return;
  }
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.url);
  fixtureDir = await mkdtemp(join(tmpdir(), "oci-image-push-faults-"));
  layouts = await buildPushLayouts(fixtureDir);
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
});

function ready(t: { skip(message: string): void }): boolean {
  if (!registry) t.skip("no registry");
  return registry !== undefined;
}

/** Bytes of blob bodies the proxy received (uploads: PATCH and PUT to blobs/uploads). */
function uploadedBytes(requests: SeenRequest[]): number {
  return requests
    .filter((request) => /\/blobs\/uploads\//.test(request.path) && request.method !== "POST")
    .reduce((sum, request) => sum + request.bodyBytes, 0);
}

async function tags(repository: string): Promise<string[]> {
  const answer = await fetch(`${registry!.url}/v2/${repository}/tags/list`);
  if (answer.status === 404) return [];
  return ((await answer.json()) as { tags: string[] | null }).tags ?? [];
}

async function push(args: string[]) {
  return runOciImage(["push", ...args], { env: ENV });
}

test("a connection cut in the middle of a chunked upload resumes from the registry's offset", async (t) => {
  if (!ready(t)) return;
  proxy.reset([
    {
      method: "PATCH",
      path: /\/blobs\/uploads\//,
      skip: 1,
      times: 1,
      fault: { kind: "cut-request", afterBytes: 0 },
    },
  ]);
  const result = await push(["--chunk-size", String(CHUNK), layouts.single, `${proxy.host}/faults/cut:1`]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /resum|retrying/);
  const patches = proxy.requests.filter((request) => request.method === "PATCH");
  assert.ok(
    patches.some((request) => request.fault === "cut-request"),
    "the cut happened",
  );
  // The first chunk went once; the second (cut after its headers) again, from the offset the registry reported.
  assert.equal(patches.filter((request) => request.headers["content-range"]?.startsWith("0-")).length, 1);
  assert.equal(patches.filter((request) => request.headers["content-range"]?.startsWith(`${CHUNK}-`)).length, 2);
  assert.ok(
    proxy.requests.some((request) => request.method === "GET" && /\/blobs\/uploads\//.test(request.path)),
    "the push asked the registry how far the upload got",
  );
  const bytes = uploadedBytes(proxy.requests);
  assert.ok(bytes < layouts.bigLayerSize + CHUNK + 10_000, `${bytes} bytes sent`);
  const again = await pushJson([layouts.single, `${proxy.host}/faults/cut:2`]);
  assert.equal(again.blobs.pushed, 0, "every blob of the interrupted push was complete");
});

test("a 500 on a PATCH is retried", async (t) => {
  if (!ready(t)) return;
  proxy.reset([{ method: "PATCH", path: /\/blobs\/uploads\//, times: 1, fault: { kind: "status", status: 500 } }]);
  const result = await push(["--chunk-size", String(CHUNK), layouts.single, `${proxy.host}/faults/patch500:1`]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /500 Internal Server Error/);
  assert.deepEqual(await tags("faults/patch500"), ["1"]);
});

test("429 with Retry-After on the manifest PUT waits and tries again", async (t) => {
  if (!ready(t)) return;
  const fault = { kind: "status" as const, status: 429, headers: { "retry-after": "1" } };
  proxy.reset([{ method: "PUT", path: /\/manifests\//, times: 1, fault }]);
  const started = Date.now();
  const result = await push([layouts.single, `${proxy.host}/faults/limited:1`]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /429 Too Many Requests.*in 1 s/);
  assert.ok(Date.now() - started >= 1000);
  assert.deepEqual(await tags("faults/limited"), ["1"]);
});

test("a second push sends zero blob bytes", async (t) => {
  if (!ready(t)) return;
  await pushJson([layouts.index, `${proxy.host}/faults/twice:1`]);
  proxy.reset();
  const second = await pushJson([layouts.index, `${proxy.host}/faults/twice:2`]);
  assert.equal(second.blobs.bytes, 0);
  assert.equal(uploadedBytes(proxy.requests), 0);
  assert.equal(proxy.requests.filter((request) => request.method === "POST").length, 0);
});

test("a registry refusing the manifest: one line, exit 1, the tag not written", async (t) => {
  if (!ready(t)) return;
  const body = JSON.stringify({ errors: [{ code: "MANIFEST_INVALID", message: "manifest invalid" }] });
  proxy.reset([{ method: "PUT", path: /\/manifests\/1$/, fault: { kind: "status", status: 400, body } }]);
  const result = await push([layouts.single, `${proxy.host}/faults/refused:1`]);
  assert.equal(result.status, 1);
  const lines = result.stderr.trim().split("\n");
  assert.match(lines.at(-1)!, /^oci-image: pushing manifest .*MANIFEST_INVALID/);
  assert.ok(!hasStackTrace(result.stderr));
  assert.deepEqual(await tags("faults/refused"), []);
});

/** A copy of the single image with its big layer overwritten (same size, other bytes). */
async function corruptedLayout(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), "oci-image-push-corrupt-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const damaged = await buildPushLayouts(dir);
  const layout = damaged.single.slice(0, damaged.single.lastIndexOf(":"));
  const manifestPath = join(layout, "blobs", "sha256", damaged.singleDigest.slice(7));
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { layers: { digest: string; size: number }[] };
  const { digest, size } = manifest.layers[1]!;
  const victim = join(layout, "blobs", "sha256", digest.slice(7));
  await writeFile(victim, Buffer.alloc(size, 7));
  return { image: damaged.single, victim, digest };
}

/** The refusal: exit 1, one error line naming the file, the blob not in the repository, no manifest, no tag. */
async function assertRefused(result: CliResult, corrupt: { victim: string; digest: string }, repository: string) {
  assert.equal(result.status, 1);
  const errors = result.stderr
    .trim()
    .split("\n")
    .filter((line) => line.startsWith("oci-image:"));
  assert.equal(errors.length, 1, result.stderr);
  assert.ok(result.stderr.trim().split("\n").at(-1)!.includes(corrupt.victim), result.stderr);
  assert.ok(!hasStackTrace(result.stderr));
  assert.ok(!proxy.requests.some((request) => /\/manifests\//.test(request.path)), "no manifest was sent");
  const blob = await fetch(`${registry!.url}/v2/${repository}/blobs/${corrupt.digest}`, { method: "HEAD" });
  assert.equal(blob.status, 404, "the registry never committed the blob");
  assert.deepEqual(await tags(repository), []);
}

// Blobs are checked as they are sent: the upload of one that does not match is abandoned before its end.
test("a corrupted blob is refused, naming its file: its upload never completes, nothing is tagged", async (t) => {
  if (!ready(t)) return;
  const corrupt = await corruptedLayout(t);
  proxy.reset();
  const result = await push([corrupt.image, `${proxy.host}/faults/corrupt:1`]);
  await assertRefused(result, corrupt, "faults/corrupt");
  assert.ok(
    proxy.requests.some((request) => request.method === "DELETE" && /\/blobs\/uploads\//.test(request.path)),
    "the upload session was cancelled",
  );
});

test("a corrupted blob sent in chunks is refused before the closing PUT, its session cancelled", async (t) => {
  if (!ready(t)) return;
  const corrupt = await corruptedLayout(t);
  proxy.reset();
  const result = await push(["--chunk-size", String(CHUNK), corrupt.image, `${proxy.host}/faults/corrupt-chunks:1`]);
  await assertRefused(result, corrupt, "faults/corrupt-chunks");
  const closing = proxy.requests.filter(
    (request) => request.method === "PUT" && request.path.includes(`digest=${encodeURIComponent(corrupt.digest)}`),
  );
  assert.deepEqual(closing, [], "the commit of the blob was never asked for");
  assert.ok(
    proxy.requests.some((request) => request.method === "DELETE"),
    "the upload session was cancelled",
  );
});

test("a layout ref that does not exist: one line, exit 1", async (t) => {
  if (!ready(t)) return;
  const layout = layouts.single.slice(0, layouts.single.lastIndexOf(":"));
  const result = await push([`${layout}:nope`, `${proxy.host}/faults/missing:1`]);
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, /no ref "nope"/);
});

test("Ctrl-C in the middle of an upload exits 130 without the tag; a rerun completes", async (t) => {
  if (!ready(t)) return;
  proxy.reset([{ method: "PATCH", path: /\/blobs\/uploads\//, fault: { kind: "hang" } }]);
  const target = `${proxy.host}/faults/interrupted:1`;
  const child = spawn(process.execPath, [BIN, "push", "--chunk-size", String(CHUNK), layouts.single, target], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !proxy.requests.some((request) => request.method === "PATCH"))
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 200));
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.deepEqual(await tags("faults/interrupted"), []);
  proxy.reset();
  const rerun = await pushJson(["--chunk-size", String(CHUNK), layouts.single, target]);
  assert.equal(rerun.digest, layouts.singleDigest);
  assert.ok(rerun.blobs.skipped >= 1, "what the first run finished is not sent again");
  assert.deepEqual(await tags("faults/interrupted"), ["1"]);
});

test("an upload moved to another host is refused: the registry's credentials stay with it", async (t) => {
  if (!ready(t)) return;
  const location = `http://${proxy.cdnHost}/v2/faults/moved/blobs/uploads/elsewhere`;
  const fault = { kind: "status" as const, status: 202, headers: { location } };
  proxy.reset([{ method: "POST", path: /\/blobs\/uploads\//, fault }]);
  const result = await push([layouts.zstd, `${proxy.host}/faults/moved:1`]);
  assert.equal(result.status, 1);
  assert.match(result.stderr.trim().split("\n").at(-1)!, /moved the upload to another host/);
  assert.ok(!proxy.requests.some((request) => request.server === "cdn"), "nothing went to the other host");
  assert.deepEqual(await tags("faults/moved"), []);
});

test("on a terminal the live line counts the bytes pushed of the image's total; Ctrl-C exits 130", async (t) => {
  if (!ready(t)) return;
  proxy.reset([{ method: "PATCH", path: /\/blobs\/uploads\//, skip: 1, fault: { kind: "hang" } }]);
  const args = ["push", "--chunk-size", String(CHUNK), layouts.single, `${proxy.host}/faults/terminal:1`];
  const run = await runOnTerminal(args, {
    cols: 100,
    env: { DOCKER_CONFIG: "/nonexistent", REGISTRY_AUTH_FILE: "" },
    steps: [{ wait_output: "pushing [0-9.]+ [kM]B / [0-9.]+ [kM]B" }, { send: CTRL_C }],
  });
  assert.equal(run.failedStep, null, run.output);
  assert.equal(run.status, 130, run.output);
  assert.match(run.output, /pushing [\d.]+ [kM]B \/ [\d.]+ [kM]B {2}\d+%/);
  assert.deepEqual(await tags("faults/terminal"), []);
});
