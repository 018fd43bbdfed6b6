/** `oci-image gc`: exactly the unreferenced blobs go, the rest still validates and unpacks. */
import assert from "node:assert/strict";
import { readFile, readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot, requireTool } from "../helpers/tools.js";
import { reachedBlobs, writeMixedLayoutApart } from "./layouts.js";

async function blobFiles(layout: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const name of await readdir(join(layout, "blobs", "sha256")))
    files.set(`sha256:${name}`, (await stat(join(layout, "blobs", "sha256", name))).size);
  return files;
}

/** What no entry of index.json reaches (subjects included), computed from the files. */
async function unreferenced(layout: string): Promise<Map<string, number>> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; size: number; mediaType: string }[];
  };
  const kept = new Map<string, number>();
  for (const entry of index.manifests) await reachedBlobs(layout, entry, true, kept);
  return new Map([...(await blobFiles(layout))].filter(([digest]) => !kept.has(digest)));
}

async function sharedLayerOf(layout: string): Promise<string> {
  const shared = [...(await blobFiles(layout)).keys()];
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  const layersOf = async (digest: string) =>
    (
      JSON.parse(await readFile(join(layout, "blobs", ...digest.split(":")), "utf8")) as {
        layers: { digest: string }[];
      }
    ).layers.map((layer) => layer.digest);
  const [plain, other] = await Promise.all(
    ["plain", "other"].map(async (ref) => {
      const listed = await runOciImage(["ls", "--json", layout]);
      const row = (JSON.parse(listed.stdout) as { ref: string; digest: string }[]).find((r) => r.ref === ref)!;
      return layersOf(row.digest);
    }),
  );
  const both = plain!.filter((digest) => other!.includes(digest) && shared.includes(digest));
  assert.equal(both.length, 1, `one layer shared in ${JSON.stringify(index)}`);
  return both[0]!;
}

test("gc after rm removes exactly the unreferenced set; a blob two refs share survives rm of one", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  const shared = await sharedLayerOf(layout);
  const removed = await runOciImage(["rm", `${layout}:plain`, `${layout}:sbom`]);
  assert.equal(removed.status, 0, removed.stderr);
  const doomed = await unreferenced(layout);
  assert.ok(doomed.size >= 5, `rm left ${doomed.size} blobs unreferenced`);
  assert.ok(!doomed.has(shared), "the shared layer is still referenced");

  const before = await blobFiles(layout);
  const dry = await runOciImage(["gc", "--dry-run", "--json", layout]);
  assert.equal(dry.status, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as { blobs: { name: string; size: number }[]; bytes: number };
  assert.deepEqual(new Map(planned.blobs.map((blob) => [blob.name, blob.size])), doomed);
  assert.deepEqual(await blobFiles(layout), before, "--dry-run removes nothing");
  const human = await runOciImage(["gc", "--dry-run", layout]);
  for (const digest of doomed.keys()) assert.match(human.stdout, new RegExp(`would remove ${digest} \\(`));

  const gc = await runOciImage(["gc", "--json", layout]);
  assert.equal(gc.status, 0, gc.stderr);
  const result = JSON.parse(gc.stdout) as { ok: boolean; bytes: number; blobs: { name: string }[] };
  assert.equal(
    result.bytes,
    [...doomed.values()].reduce((a, b) => a + b, 0),
  );
  const after = await blobFiles(layout);
  assert.deepEqual(after, new Map([...before].filter(([digest]) => !doomed.has(digest))));
  assert.ok(after.has(shared), "the layer the other ref uses survives");
  assert.equal((await unreferenced(layout)).size, 0);

  const validate = await runOciImage(["validate", layout]);
  assert.equal(validate.status, 0, validate.stdout);
  assert.match(validate.stdout, /0 errors, 0 warnings/);
  const again = await runOciImage(["gc", layout]);
  assert.match(again.stdout, /^freed 0 B \(0 files\)$/m);

  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  const bundle = join(await tempDir(t), "bundle");
  const args = [...(isRoot() ? [] : ["--rootless"]), "--image", `${layout}:other`, bundle];
  const unpacked = await runProgram(umoci, ["unpack", ...args]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  assert.equal(await readFile(join(bundle, "rootfs", "shared.txt"), "utf8"), "shared by two refs\n");
});

test("gc removes temp files of interrupted writes older than an hour, and keeps newer ones", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  const old = join(layout, ".oci-image-tmp-0123456789abcdef");
  const fresh = join(layout, ".oci-image-tmp-fedcba9876543210");
  await writeFile(old, "x".repeat(100));
  await writeFile(fresh, "y");
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  await utimes(old, twoHoursAgo, twoHoursAgo);
  const gc = await runOciImage(["gc", "--json", layout]);
  assert.equal(gc.status, 0, gc.stderr);
  const result = JSON.parse(gc.stdout) as { temporary: { name: string; size: number }[]; bytes: number };
  assert.deepEqual(result.temporary, [{ name: ".oci-image-tmp-0123456789abcdef", size: 100 }]);
  assert.equal(result.bytes, 100);
  await assert.rejects(stat(old));
  await stat(fresh);
});

test("gc keeps the blobs a writer still running has stored but not yet named", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  // This process becomes a writer of the layout: its blob is not referenced yet.
  const { ImageLayout } = await import("../../src/layout/layout.js");
  const stored = await (await ImageLayout.open(layout)).putBlobBytes(Buffer.from("about to be named\n"));
  const gc = await runOciImage(["gc", "--json", layout]);
  assert.equal(gc.status, 0, gc.stderr);
  const result = JSON.parse(gc.stdout) as { kept: number; blobs: { name: string }[] };
  assert.equal(result.kept, 1);
  assert.ok(!result.blobs.some((blob) => blob.name === stored.digest));
  assert.ok((await blobFiles(layout)).has(stored.digest));
  assert.match((await runOciImage(["gc", layout])).stdout, /kept 1 blob a running writer may use/);
});
