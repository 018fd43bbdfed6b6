/**
 * The code cache bin/oci-image loads the bundle through on Node 20: a run after
 * the first uses it, and a cache that is stale, corrupt or open to other users
 * is never used (the file is compiled as usual, and still runs).
 */
import assert from "node:assert/strict";
import { chmod, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test, type TestContext } from "node:test";
import { defaultCodeCacheDir } from "../../src/util/code-cache.js";
import { REPO_ROOT, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const CODE_CACHE = pathToFileURL(join(REPO_ROOT, "dist/src/util/code-cache.js")).href;

/** Loads `file` through the cache in a new process: what the cache did and what the module exported. */
async function load(
  file: string,
  cacheDir: string,
  run: { variant?: string; exitCode?: number } = {},
): Promise<{ cache: string; exports: unknown }> {
  const call = [file, cacheDir, run.variant ?? ""].map((argument) => JSON.stringify(argument)).join(", ");
  const script = `
    const { requireWithCodeCache } = await import(${JSON.stringify(CODE_CACHE)});
    const { cache, exports } = requireWithCodeCache(${call});
    process.stdout.write(JSON.stringify({ cache, exports }));
    process.exitCode = ${run.exitCode ?? 0};`;
  const result = await runProgram(process.execPath, ["--input-type=module", "-e", script]);
  assert.equal(result.status, run.exitCode ?? 0, result.stderr);
  return JSON.parse(result.stdout) as { cache: string; exports: unknown };
}

async function setUp(t: TestContext): Promise<{ file: string; cacheDir: string; cacheFile: () => Promise<string> }> {
  const dir = await tempDir(t);
  const file = join(dir, "module.js");
  await writeFile(file, 'module.exports = { answer: require("node:path").basename(__filename) + " 42" };\n');
  const cacheDir = join(dir, "cache");
  const cacheFile = async () => {
    const names = await readdir(cacheDir);
    assert.equal(names.length, 1, `one cache file: ${names.join(", ")}`);
    return join(cacheDir, names[0]!);
  };
  return { file, cacheDir, cacheFile };
}

test("the first run writes the cache (only the user may read it), later runs use it", async (t) => {
  const { file, cacheDir, cacheFile } = await setUp(t);
  assert.deepEqual(await load(file, cacheDir), { cache: "written", exports: { answer: "module.js 42" } });
  assert.equal((await stat(cacheDir)).mode & 0o777, 0o700);
  assert.equal((await stat(await cacheFile())).mode & 0o777, 0o600);
  assert.deepEqual(await load(file, cacheDir), { cache: "used", exports: { answer: "module.js 42" } });
});

test("a cache made for another version of the file is not used", async (t) => {
  const { file, cacheDir } = await setUp(t);
  await load(file, cacheDir);
  await writeFile(file, "module.exports = { answer: 'changed' };\n");
  assert.deepEqual(await load(file, cacheDir), { cache: "written", exports: { answer: "changed" } });
  assert.deepEqual(await load(file, cacheDir), { cache: "used", exports: { answer: "changed" } });
});

test("a corrupt cache is not used, and is replaced", async (t) => {
  const { file, cacheDir, cacheFile } = await setUp(t);
  await load(file, cacheDir);
  const path = await cacheFile();
  const bytes = await readFile(path);
  bytes[bytes.length - 100] ^= 0xff;
  await writeFile(path, bytes);
  assert.deepEqual(await load(file, cacheDir), { cache: "written", exports: { answer: "module.js 42" } });
  assert.deepEqual(await load(file, cacheDir), { cache: "used", exports: { answer: "module.js 42" } });
  await writeFile(path, "not a cache");
  assert.equal((await load(file, cacheDir)).cache, "written");
});

test("a cache that others may write is not used", async (t) => {
  const { file, cacheDir, cacheFile } = await setUp(t);
  await load(file, cacheDir);
  const path = await cacheFile();
  await chmod(path, 0o666);
  assert.equal((await load(file, cacheDir)).cache, "written", "a cache file others may write");
  assert.equal((await load(file, cacheDir)).cache, "used", "replaced by one of ours");
  await chmod(cacheDir, 0o777);
  assert.deepEqual(await load(file, cacheDir), { cache: "off", exports: { answer: "module.js 42" } });
});

test("each variant (command) keeps a cache of its own; a run that fails makes none", async (t) => {
  const { file, cacheDir } = await setUp(t);
  assert.equal((await load(file, cacheDir, { variant: "validate", exitCode: 1 })).cache, "written");
  assert.deepEqual(await readdir(cacheDir), [], "a failed run wrote no cache");
  assert.equal((await load(file, cacheDir, { variant: "validate" })).cache, "written");
  assert.equal((await load(file, cacheDir, { variant: "fetch" })).cache, "written");
  assert.equal((await load(file, cacheDir, { variant: "validate" })).cache, "used");
  assert.equal((await load(file, cacheDir, { variant: "fetch" })).cache, "used");
  assert.equal((await readdir(cacheDir)).length, 2);
});

test("the cache lives in $XDG_CACHE_HOME/oci-image, else $HOME/.cache/oci-image, else nowhere", () => {
  assert.equal(defaultCodeCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "/x/oci-image");
  assert.equal(defaultCodeCacheDir({ HOME: "/h" }), "/h/.cache/oci-image");
  assert.equal(defaultCodeCacheDir({}), undefined);
});

test("writing a cache removes those of files that are gone or changed, and keeps the current ones", async (t) => {
  const { file, cacheDir } = await setUp(t);
  const other = join(cacheDir, "..", "other.js");
  const gone = join(cacheDir, "..", "gone.js");
  await writeFile(other, "module.exports = 1;\n");
  await writeFile(gone, "module.exports = 2;\n");
  await load(other, cacheDir);
  await load(gone, cacheDir);
  await load(file, cacheDir, { variant: "validate" });
  assert.equal((await readdir(cacheDir)).length, 3);
  await rm(gone);
  await load(file, cacheDir, { variant: "fetch" });
  const names = await readdir(cacheDir);
  assert.equal(names.length, 3, `the cache of the removed file went: ${names.join(", ")}`);
  assert.ok(!names.some((name) => name.startsWith("gone_js")), names.join(", "));
  await writeFile(other, "module.exports = 3;\n");
  await load(file, cacheDir, { variant: "ls" });
  assert.ok(!(await readdir(cacheDir)).some((name) => name.startsWith("other_js")), "a changed file's cache went");
  assert.equal((await load(file, cacheDir, { variant: "validate" })).cache, "used", "current caches stay");
});
