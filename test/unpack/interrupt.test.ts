/**
 * `oci-image unpack` interrupted at several moments of a multi-layer unpack
 * that takes a few seconds: SIGINT ends it within 0.5 s with exit 130 and
 * nothing at the target; SIGKILL leaves the target as it was (the partial
 * bundle is a staging directory beside it, named as such) and a rerun works.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { DigestingStream } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { STAGING_PREFIX } from "../../src/bundle/bundle-directory.js";
import { BIN, runOciImage } from "../helpers/cli.js";
import { assertValidRuntimeConfig } from "../helpers/runtime-spec.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";

const LAYERS = 3;
const SMALL_FILES = 2000;
const BIG_FILES = 6;
const BIG_SIZE = 8 * 1024 * 1024;
/** The promise: from the signal to the exit. */
const SIGINT_EXIT_MS = 500;

/** Moments of the run, each the first file the run writes there (under the staging rootfs). */
const MOMENTS: { name: string; marker: string; mayFinish?: boolean }[] = [
  { name: "early in layer 1", marker: "l0/d0/f10" },
  { name: "mid layer 1 (big files)", marker: "l0/big-2" },
  { name: "start of layer 2", marker: "l1/d0/f0" },
  { name: "mid layer 3", marker: "l2/d10/f0" },
  // The last big file: its data, directory times, /etc/passwd and config.json are what is left.
  { name: "the end (last big file begun)", marker: `l2/big-${BIG_FILES - 1}`, mayFinish: true },
];

test("SIGINT at several moments: exit 130 within 0.5 s, nothing at the target, staging removed", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeManyFilesImage(layout);
  const timings: string[] = [];
  for (const [index, moment] of MOMENTS.entries()) {
    const bundle = join(dir, `bundle-${index}`);
    const run = startUnpack(t, layout, bundle);
    const seen = await waitForStagingFile(dir, `bundle-${index}`, moment.marker, run.child, moment.mayFinish);
    const sent = performance.now();
    if (seen) run.child.kill("SIGINT");
    const status = await run.exited;
    const elapsed = Math.round(performance.now() - sent);
    timings.push(`${moment.name}: ${seen ? `${elapsed} ms` : "finished first"}, exit ${status}`);
    if (status === 0 && moment.mayFinish) {
      // The signal came after the bundle was renamed into place: it is complete.
      await assertValidRuntimeConfig(t, bundle);
      continue;
    }
    assert.equal(status, 130, `${moment.name}: ${run.stderr()}`);
    assert.match(run.stderr(), /interrupted/);
    assert.ok(elapsed <= SIGINT_EXIT_MS, `${moment.name}: exited ${elapsed} ms after SIGINT`);
    assert.equal(existsSync(bundle), false, `${moment.name}: nothing at the target`);
    await waitFor(async () => (await stagingDirs(dir, `bundle-${index}`)).length === 0, "the staging directory goes");
  }
  t.diagnostic(timings.join("; "));
});

test("SIGKILL at several moments: the target stays as it was, a named staging directory, a rerun works", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeManyFilesImage(layout);
  for (const [index, moment] of MOMENTS.slice(0, 4).entries()) {
    const name = `bundle-${index}`;
    const bundle = join(dir, name);
    // Half the runs into an empty directory the user made (it is replaced), half into a new path.
    if (index % 2 === 1) await mkdir(bundle);
    const run = startUnpack(t, layout, bundle);
    await waitForStagingFile(dir, name, moment.marker, run.child);
    run.child.kill("SIGKILL");
    assert.equal(await run.exited, "SIGKILL");
    if (index % 2 === 1) assert.deepEqual(await readdir(bundle), [], `${moment.name}: the target is still empty`);
    else assert.equal(existsSync(bundle), false, `${moment.name}: nothing at the target`);
    const left = await stagingDirs(dir, name);
    assert.equal(left.length, 1, `${moment.name}: one staging directory left, named after the target`);
    const rerun = await runOciImage(["unpack", "-q", layout, bundle]);
    assert.equal(rerun.status, 0, `${moment.name}: rerun: ${rerun.stderr}`);
    assert.ok(existsSync(join(bundle, "rootfs", "l2", "zz-last")), `${moment.name}: the rerun's bundle is complete`);
    await assertValidRuntimeConfig(t, bundle);
  }
});

interface Run {
  child: ChildProcess;
  exited: Promise<number | string | null>;
  stderr(): string;
}

function startUnpack(t: TestContext, layout: string, bundle: string): Run {
  const child = spawn(process.execPath, [BIN, "unpack", "-q", layout, bundle], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  return { child, exited, stderr: () => stderr };
}

/** The staging directories of `bundle` in `parent`. */
async function stagingDirs(parent: string, bundle: string): Promise<string[]> {
  return (await readdir(parent)).filter((name) => name.startsWith(`${STAGING_PREFIX}${bundle}-`));
}

/** Waits until the run has written `marker`; false when it ended first (allowed only with `mayFinish`). */
async function waitForStagingFile(
  parent: string,
  bundle: string,
  marker: string,
  child: ChildProcess,
  mayFinish = false,
): Promise<boolean> {
  let seen = false;
  await waitFor(async () => {
    if (child.exitCode !== null && mayFinish) return true;
    assert.equal(child.exitCode, null, `the unpack ended before ${marker} was written`);
    const [staging] = await stagingDirs(parent, bundle);
    seen = staging !== undefined && existsSync(join(parent, staging, "rootfs", marker));
    return seen;
  }, `${marker} is written`);
  return seen;
}

/**
 * LAYERS gzip layers, each under its own l<n>/: SMALL_FILES small files in 40
 * directories, BIG_FILES files of zeros, and a last entry zz-last. Streamed:
 * never whole in memory.
 */
async function writeManyFilesImage(dir: string): Promise<void> {
  const store = await ImageLayout.openOrCreate(dir);
  const layers = [];
  const diffIds = [];
  for (let layer = 0; layer < LAYERS; layer++) {
    const tar = pack();
    const diffId = new DigestingStream("sha256");
    const stored = store.putBlob(tar.pipe(diffId).pipe(createGzip({ level: 1 })));
    const add = (name: string, content: Buffer) =>
      new Promise<void>((resolve, reject) =>
        tar.entry({ name, mode: 0o644, mtime: new Date(0) }, content, (error) => (error ? reject(error) : resolve())),
      );
    for (let i = 0; i < SMALL_FILES; i++) await add(`l${layer}/d${i % 40}/f${Math.floor(i / 40)}`, smallContent(i));
    for (let i = 0; i < BIG_FILES; i++) await add(`l${layer}/big-${i}`, Buffer.alloc(BIG_SIZE));
    await add(`l${layer}/zz-last`, Buffer.from("last\n"));
    tar.finalize();
    const blob = await stored;
    layers.push({ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size });
    diffIds.push(diffId.digest());
  }
  const config = await store.putBlobBytes(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Cmd: ["/bin/sh"] },
        rootfs: { type: "layers", diff_ids: diffIds },
      }),
    ),
  );
  const manifest = await store.putBlobBytes(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
        layers,
      }),
    ),
  );
  await store.addRef({ mediaType: MediaType.ociManifest, digest: manifest.digest, size: manifest.size }, "many");
}

function smallContent(i: number): Buffer {
  return Buffer.from(`file ${i}\n`.repeat(100 + (i % 50)));
}
