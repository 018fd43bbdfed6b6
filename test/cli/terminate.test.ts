/**
 * SIGTERM, as `timeout` and service managers send it, is an interrupt like
 * SIGINT: the command cleans up (no temporary files, no partial bundle) and
 * exits 143. (fetch is tested with its registry in terminal-fetch.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import {
  assertLayoutUnchanged,
  hasTempFile,
  layoutState,
  makeLayeredImage,
  makeTree,
  signalWhen,
} from "./terminal-fixtures.js";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "oci-image-terminate-"));
  await makeTree(join(work, "tree"));
  await makeLayeredImage(join(work, "images"));
});
after(() => rm(work, { recursive: true, force: true }));

test("create: SIGTERM while the layer is written exits 143 and leaves the layout as it was", async (t) => {
  const layout = join(await tempDir(t), "layout");
  assert.equal((await runOciImage(["create", join(work, "tree", "small"), `${layout}:first`])).status, 0);
  const before = await layoutState(layout);
  const run = await signalWhen(["create", join(work, "tree"), `${layout}:second`], () => hasTempFile(layout));
  assert.equal(run.status, 143, run.stderr);
  assert.match(run.stderr, /interrupted/);
  await assertLayoutUnchanged(layout, before, "create after SIGTERM");
});

test("create: SIGTERM into a new layout removes it", async (t) => {
  const parent = await tempDir(t);
  const layout = join(parent, "layout");
  const run = await signalWhen(["create", join(work, "tree"), layout], () => hasTempFile(layout));
  assert.equal(run.status, 143, run.stderr);
  assert.deepEqual(await readdir(parent), []);
});

test("unpack: SIGTERM while layers are applied exits 143 and removes the bundle", async (t) => {
  const parent = await tempDir(t);
  const bundle = join(parent, "bundle");
  // Once anything of the bundle exists (beside the target or at it), some layer is being applied.
  const started = async () => (await readdir(parent)).length > 0 && (await bundleHasFiles(parent));
  const run = await signalWhen(["unpack", "--rootless", `${join(work, "images")}:multi`, bundle], started);
  assert.equal(run.status, 143, run.stderr);
  assert.deepEqual(await readdir(parent), [], "the bundle (or a part of it) is left");
});

/** Some file of a layer is in the bundle being built. */
async function bundleHasFiles(parent: string): Promise<boolean> {
  for (const name of await readdir(parent)) {
    try {
      const rootfs = await readdir(join(parent, name, "rootfs"));
      if (rootfs.length > 0) return true;
    } catch {
      // Not there yet.
    }
  }
  return false;
}
