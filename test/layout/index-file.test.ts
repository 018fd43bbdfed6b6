/** index.json: refs added and replaced, concurrent writers, stale locks, and opening layouts. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Descriptor } from "../../src/image/types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { listRefs, parseLayoutArgument } from "../../src/layout/refs.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const manifestOf = (text: string): Descriptor => ({ mediaType: MediaType.ociManifest, digest: digestOf(text), size: text.length });

test("addRef adds entries, replaces the one of the same ref name, and says which", async (t) => {
  const layout = await ImageLayout.openOrCreate(join(await tempDir(t), "layout"));
  assert.deepEqual(await layout.addRef(manifestOf("a"), "latest"), { replaced: undefined });
  await layout.addRef(manifestOf("b"), "other");
  const result = await layout.addRef(manifestOf("c"), "latest");
  assert.equal(result.replaced?.digest, digestOf("a"));
  const index = await layout.readIndex();
  assert.deepEqual(listRefs(index).sort(), ["latest", "other"]);
  assert.equal((await layout.resolveRef("latest")).digest, digestOf("c"));
  // Untagged entries: the same digest is replaced, not duplicated.
  await layout.addRef(manifestOf("d"), undefined);
  await layout.addRef(manifestOf("d"), undefined);
  assert.equal((await layout.readIndex()).manifests.length, 3);
  await assert.rejects(layout.resolveRef("missing"), { code: "REF_UNKNOWN" });
  await assert.rejects(layout.resolveRef(undefined), { code: "USAGE" });
});

test("two processes adding refs at once: every ref lands, the lock is released", async (t) => {
  const dir = join(await tempDir(t), "layout");
  await ImageLayout.openOrCreate(dir);
  const moduleUrl = pathToFileURL(join(REPO_ROOT, "dist", "src", "layout", "layout.js")).href;
  const script = `
    const { ImageLayout } = await import(${JSON.stringify(moduleUrl)});
    const [dir, prefix] = process.argv.slice(1);
    const layout = await ImageLayout.open(dir);
    for (let i = 0; i < 25; i++) {
      await layout.addRef({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + String(i).padStart(64, "0"), size: 1 }, prefix + i);
    }`;
  const runWriter = (prefix: string) =>
    new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir, prefix], { stdio: ["ignore", "inherit", "inherit"] });
      child.on("error", reject);
      child.on("close", resolve);
    });
  assert.deepEqual(await Promise.all([runWriter("a"), runWriter("b")]), [0, 0]);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  const refs = listRefs(index).sort();
  assert.equal(refs.length, 50);
  for (let i = 0; i < 25; i++) assert.ok(refs.includes(`a${i}`) && refs.includes(`b${i}`), `ref ${i} lost`);
  assert.deepEqual((await readdir(dir)).filter((name) => name.includes("lock") || name.startsWith(".oci-image-tmp-")), []);
});

test("a lock left by a process that is gone is broken, not waited on", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layout = await ImageLayout.openOrCreate(dir);
  // A pid that cannot be running: above the kernel's pid_max.
  await writeFile(join(dir, "index.json.lock"), "99999999\n");
  const started = Date.now();
  await layout.addRef(manifestOf("x"), "x");
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(listRefs(await layout.readIndex()), ["x"]);
});

test("open refuses a directory that is not a layout, or of another version", async (t) => {
  const root = await tempDir(t);
  await assert.rejects(ImageLayout.open(root), { code: "LAYOUT_MISSING" });
  await writeFile(join(root, "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
  await assert.rejects(ImageLayout.open(root), { code: "LAYOUT_VERSION" });
  const other = await tempDir(t);
  await writeFile(join(other, "file"), "x");
  await assert.rejects(ImageLayout.openOrCreate(other), { code: "LAYOUT_MISSING" });
  const fresh = await ImageLayout.openOrCreate(join(other, "new"));
  assert.deepEqual(JSON.parse(await readFile(join(fresh.root, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
  assert.deepEqual(await fresh.readIndex(), { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
});

test("<layout>[:<tag>] arguments", () => {
  assert.deepEqual(parseLayoutArgument("images:alpine"), { path: "images", tag: "alpine" });
  assert.deepEqual(parseLayoutArgument("./a/b"), { path: "./a/b" });
  assert.deepEqual(parseLayoutArgument("dir:x/y"), { path: "dir:x/y" });
  assert.deepEqual(parseLayoutArgument("odd:name:"), { path: "odd:name" });
  assert.throws(() => parseLayoutArgument("images:-bad"), { code: "USAGE" });
});
