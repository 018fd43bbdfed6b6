/** `oci-image push` to a real registry (docker-registry): round trips through fetch and skopeo, indexes, mounts. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { pushImage, startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import { buildPushLayouts, layoutBlobs, pushJson, type PushLayouts } from "./fixtures.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";

let registry: StartedRegistry | undefined;
let layouts: PushLayouts;
let fixtureDir: string;

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo")) {
    if (inCI()) throw new Error("docker-registry and skopeo are needed in CI");
    process.stderr.write("\n*** SKIPPING push registry tests: docker-registry or skopeo missing ***\n");
    return;
  }
  registry = await startRegistry();
  fixtureDir = await mkdtemp(join(tmpdir(), "oci-image-push-fixture-"));
  layouts = await buildPushLayouts(fixtureDir);
});

after(async () => {
  await registry?.stop();
  if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
});

function ready(t: { skip(message: string): void }): StartedRegistry | undefined {
  if (!registry) t.skip("no registry");
  return registry;
}

function layoutPath(argument: string): string {
  return argument.slice(0, argument.lastIndexOf(":"));
}

async function skopeoRaw(reference: string): Promise<Buffer> {
  const result = await runProgram("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`]);
  assert.equal(result.status, 0, result.stderr);
  return Buffer.from(result.stdout);
}

async function layoutBlob(layout: string, digest: string): Promise<Buffer> {
  return readFile(join(layout, "blobs", "sha256", digest.slice(7)));
}

/** Fetches `reference` into a new layout and checks every blob is byte-identical to the pushed layout's. */
async function fetchBack(t: Parameters<typeof tempDir>[0], reference: string, source: string, extra: string[] = []) {
  const target = join(await tempDir(t), "back");
  const result = await runOciImage(["fetch", "--json", ...extra, reference, `${target}:back`]);
  assert.equal(result.status, 0, result.stderr);
  const original = await layoutBlobs(source);
  for (const [name, bytes] of await layoutBlobs(target))
    assert.deepEqual(bytes, original.get(name), `blob ${name} came back different`);
  return JSON.parse(result.stdout) as { digest: string };
}

test("a pushed image comes back byte for byte, through fetch and skopeo", async (t) => {
  const running = ready(t);
  if (!running) return;
  const result = await runOciImage(["push", layouts.single, `${running.host}/test/app:1`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, `${running.host}/test/app@${layouts.singleDigest}\n`);
  assert.match(result.stderr, /4 blobs uploaded/);
  // In a pipe: one plain line per blob pushed.
  assert.equal([...result.stderr.matchAll(/^sha256:[0-9a-f]{12} pushed \(/gm)].length, 4, result.stderr);
  const raw = await skopeoRaw(`${running.host}/test/app:1`);
  assert.deepEqual(raw, await layoutBlob(layoutPath(layouts.single), layouts.singleDigest));
  const back = await fetchBack(t, `${running.host}/test/app:1`, layoutPath(layouts.single));
  assert.equal(back.digest, layouts.singleDigest);
});

test("a second push of the same image uploads no blob", async (t) => {
  const running = ready(t);
  if (!running) return;
  await pushJson([layouts.single, `${running.host}/test/again:1`]);
  const second = await pushJson([layouts.single, `${running.host}/test/again:2`]);
  assert.deepEqual(second.blobs, { pushed: 0, skipped: 4, mounted: 0, bytes: 0 });
  assert.equal(second.digest, layouts.singleDigest);
  assert.equal(second.tag, "2");
});

test("an OCI index of two platforms is pushed whole; skopeo copies it back and it validates", async (t) => {
  const running = ready(t);
  if (!running) return;
  const pushed = await pushJson([layouts.index, `${running.host}/test/multi:1`]);
  assert.equal(pushed.digest, layouts.indexDigest);
  assert.equal(pushed.mediaType, MediaType.ociIndex);
  const raw = await skopeoRaw(`${running.host}/test/multi:1`);
  assert.deepEqual(raw, await layoutBlob(layoutPath(layouts.index), layouts.indexDigest));
  const back = await fetchBack(t, `${running.host}/test/multi:1`, layoutPath(layouts.index), ["--platform", "all"]);
  assert.equal(back.digest, layouts.indexDigest);
  const copy = join(await tempDir(t), "copy");
  const copied = await runProgram("skopeo", [
    "copy",
    "--all",
    "--src-tls-verify=false",
    `docker://${running.host}/test/multi:1`,
    `oci:${copy}:multi`,
  ]);
  assert.equal(copied.status, 0, copied.stderr);
  const validated = await runOciImage(["validate", copy]);
  assert.equal(validated.status, 0, validated.stdout + validated.stderr);
});

test("--platform pushes one image of an index as a plain manifest", async (t) => {
  const running = ready(t);
  if (!running) return;
  const pushed = await pushJson(["--platform", "linux/arm64/v8", layouts.index, `${running.host}/test/arm:1`]);
  assert.equal(pushed.digest, layouts.armDigest);
  assert.equal(pushed.mediaType, MediaType.ociManifest);
  assert.equal(pushed.blobs.pushed, 2);
  const raw = await skopeoRaw(`${running.host}/test/arm:1`);
  assert.deepEqual(raw, await layoutBlob(layoutPath(layouts.index), layouts.armDigest));
});

test("a digest in the image reference is checked before anything is pushed", async (t) => {
  const running = ready(t);
  if (!running) return;
  const wrong = `sha256:${"0".repeat(64)}`;
  const refused = await runOciImage(["push", layouts.single, `${running.host}/test/pinned@${wrong}`]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  assert.match(refused.stderr, /nothing was pushed/);
  const tags = await fetch(`${running.url}/v2/test/pinned/tags/list`);
  assert.equal(tags.status, 404);
  const pinned = await pushJson([layouts.single, `${running.host}/test/pinned@${layouts.singleDigest}`]);
  assert.equal(pinned.digest, layouts.singleDigest);
  assert.equal(pinned.tag, null);
});

test("without a tag in the image reference the layout's tag is used (a zstd image, fetched back the same)", async (t) => {
  const running = ready(t);
  if (!running) return;
  const pushed = await pushJson([layouts.zstd, `${running.host}/test/zstd`]);
  assert.equal(pushed.tag, "zstd");
  const back = await fetchBack(t, `${running.host}/test/zstd:zstd`, layoutPath(layouts.zstd));
  assert.equal(back.digest, layouts.zstdDigest);
});

test("a Docker image fetched and converted is pushed, its blobs mounted from where it came from", async (t) => {
  const running = ready(t);
  if (!running) return;
  await pushImage(`oci:${layoutPath(layouts.single)}:app`, running, "source/docker:1", { format: "v2s2" });
  const converted = join(await tempDir(t), "converted");
  const fetched = await runOciImage(["fetch", `${running.host}/source/docker:1`, `${converted}:conv`]);
  assert.equal(fetched.status, 0, fetched.stderr);
  const pushed = await pushJson([`${converted}:conv`, `${running.host}/test/converted:1`]);
  assert.equal(pushed.blobs.mounted, 4, JSON.stringify(pushed.blobs));
  assert.equal(pushed.blobs.bytes, 0);
  const back = await fetchBack(t, `${running.host}/test/converted:1`, converted);
  assert.equal(back.digest, pushed.digest);
});

test("--from mounts blobs from another repository instead of uploading them", async (t) => {
  const running = ready(t);
  if (!running) return;
  await pushJson([layouts.single, `${running.host}/test/mount-source:1`]);
  const pushed = await pushJson(["--from", "test/mount-source", layouts.single, `${running.host}/test/mounted:1`]);
  assert.deepEqual(pushed.blobs, { pushed: 0, skipped: 0, mounted: 4, bytes: 0 });
  const raw = await skopeoRaw(`${running.host}/test/mounted:1`);
  assert.deepEqual(raw, await layoutBlob(layoutPath(layouts.single), layouts.singleDigest));
});

test("-q prints only the pinned reference, for scripts", async (t) => {
  const running = ready(t);
  if (!running) return;
  const result = await runOciImage(["push", "-q", layouts.index, `${running.host}/test/quiet:1`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.equal(result.stdout, `${running.host}/test/quiet@${layouts.indexDigest}\n`);
});
