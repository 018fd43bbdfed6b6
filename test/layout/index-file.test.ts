/** index.json: refs added and replaced, concurrent writers, stale locks, and opening layouts. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { digestOf } from "../../src/image/digest.js";
import { MediaType } from "../../src/image/media-types.js";
import type { Descriptor, ImageIndex } from "../../src/image/types.js";
import { breakStaleLock } from "../../src/layout/index-file.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { listRefs, parseLayoutArgument } from "../../src/layout/refs.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/**
 * An entry whose blob is `text`. addRef checks that what an entry names is
 * stored, so each test stores its texts first (storeTexts); a plain media
 * type, so the text is not read as a manifest.
 */
const manifestOf = (text: string): Descriptor => ({
  mediaType: "application/octet-stream",
  digest: digestOf(text),
  size: text.length,
});

async function storeTexts(layout: ImageLayout, texts: string): Promise<void> {
  for (const text of texts) await layout.putBlobBytes(Buffer.from(text));
}

test("addRef adds entries, replaces the one of the same ref name, and says which", async (t) => {
  const layout = await ImageLayout.openOrCreate(join(await tempDir(t), "layout"));
  await storeTexts(layout, "abcd");
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

test("addRef of an entry that is there already (keys in any order) leaves index.json untouched", async (t) => {
  const layout = await ImageLayout.openOrCreate(join(await tempDir(t), "layout"));
  await storeTexts(layout, "ab");
  const annotated = { ...manifestOf("a"), annotations: { "io.containerd.image.name": "r.io/a:1" } };
  await layout.addRef(annotated, "latest");
  await layout.addRef(manifestOf("b"), "other");
  const path = join(layout.root, "index.json");
  const before = await stat(path);
  const bytes = await readFile(path);
  const reordered = {
    annotations: { "io.containerd.image.name": "r.io/a:1" },
    size: annotated.size,
    digest: annotated.digest,
    mediaType: annotated.mediaType,
  };
  assert.deepEqual(await layout.addRef(reordered, "latest"), { unchanged: true });
  assert.deepEqual(await readFile(path), bytes);
  assert.equal((await stat(path)).ino, before.ino, "not rewritten");
  // Another annotation is a change.
  const changed = await layout.addRef(
    { ...annotated, annotations: { "io.containerd.image.name": "r.io/a:2" } },
    "latest",
  );
  assert.equal(changed.replaced?.digest, digestOf("a"));
  assert.notEqual((await stat(path)).ino, before.ino);
});

/** Starts a process that adds `count` refs named `<prefix><i>` to the layout at `dir`. */
function runWriter(dir: string, prefix: string, count: number): Promise<number | null> {
  const moduleUrl = pathToFileURL(join(REPO_ROOT, "dist", "src", "layout", "layout.js")).href;
  const script = `
    const { ImageLayout } = await import(${JSON.stringify(moduleUrl)});
    const [dir, prefix, count] = process.argv.slice(1);
    const layout = await ImageLayout.open(dir);
    for (let i = 0; i < Number(count); i++) {
      const blob = await layout.putBlobBytes(Buffer.from(prefix + i));
      await layout.addRef({ mediaType: "application/octet-stream", digest: blob.digest, size: blob.size }, prefix + i);
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir, prefix, String(count)], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", resolve);
  });
}

function assertAllRefs(index: unknown, prefixes: string[], count: number): void {
  const refs = listRefs(index as ImageIndex);
  assert.equal(refs.length, prefixes.length * count);
  for (const prefix of prefixes)
    for (let i = 0; i < count; i++) assert.ok(refs.includes(`${prefix}${i}`), `ref ${prefix}${i} lost`);
}

test("two processes adding refs at once: every ref lands, the lock is released", async (t) => {
  const dir = join(await tempDir(t), "layout");
  await ImageLayout.openOrCreate(dir);
  assert.deepEqual(await Promise.all([runWriter(dir, "a", 25), runWriter(dir, "b", 25)]), [0, 0]);
  assertAllRefs(JSON.parse(await readFile(join(dir, "index.json"), "utf8")), ["a", "b"], 25);
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.includes("lock") || name.startsWith(".oci-image-tmp-")),
    [],
  );
});

test("writers that all meet a stale lock break it and every ref lands", async (t) => {
  const dir = join(await tempDir(t), "layout");
  await ImageLayout.openOrCreate(dir);
  await writeFile(join(dir, "index.json.lock"), "99999999\n");
  const prefixes = ["a", "b", "c", "d"];
  assert.deepEqual(await Promise.all(prefixes.map((prefix) => runWriter(dir, prefix, 15))), [0, 0, 0, 0]);
  assertAllRefs(JSON.parse(await readFile(join(dir, "index.json"), "utf8")), prefixes, 15);
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.includes("lock")),
    [],
  );
});

test("breaking a stale lock that another process has just replaced leaves the fresh lock in place", async (t) => {
  const dir = await tempDir(t);
  const lock = join(dir, "index.json.lock");
  await writeFile(lock, "99999999\n");
  const staleInode = (await stat(lock, { bigint: true })).ino;
  // Another process broke the stale lock and took the lock again before we acted.
  await unlink(lock);
  await writeFile(join(dir, "placeholder"), "keeps the old inode number from being reused");
  await writeFile(lock, `${process.pid}\n`);
  const freshInode = (await stat(lock, { bigint: true })).ino;
  assert.notEqual(freshInode, staleInode);
  await breakStaleLock(lock, staleInode);
  assert.equal((await stat(lock, { bigint: true })).ino, freshInode);
  assert.equal(await readFile(lock, "utf8"), `${process.pid}\n`);
  assert.deepEqual((await readdir(dir)).sort(), ["index.json.lock", "placeholder"]);
  // The stale one itself is removed.
  await breakStaleLock(lock, freshInode);
  assert.deepEqual(await readdir(dir), ["placeholder"]);
});

test("a lock whose owner still runs is waited for, however old it is", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layout = await ImageLayout.openOrCreate(dir);
  const lock = join(dir, "index.json.lock");
  await writeFile(lock, `${process.pid}\n`);
  const longAgo = new Date(Date.now() - 3_600_000);
  await utimes(lock, longAgo, longAgo);
  await storeTexts(layout, "y");
  let added = false;
  const adding = layout.addRef(manifestOf("y"), "y").then(() => (added = true));
  await sleep(500);
  assert.equal(added, false, "the lock of a running process was broken");
  await unlink(lock);
  await adding;
  assert.deepEqual(listRefs(await layout.readIndex()), ["y"]);
});

test("a lock left by a process that is gone is broken, not waited on", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layout = await ImageLayout.openOrCreate(dir);
  // A pid that cannot be running: above the kernel's pid_max.
  await writeFile(join(dir, "index.json.lock"), "99999999\n");
  const started = Date.now();
  await storeTexts(layout, "x");
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
