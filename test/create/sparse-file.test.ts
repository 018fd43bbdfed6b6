/** A 1 GiB sparse file streams through create in bounded memory and comes out whole. */
import assert from "node:assert/strict";
import { access, mkdir, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { inCI } from "../helpers/tools.js";
import { checkImageStreaming } from "./verify-image.js";

const GIB = 1024 * 1024 * 1024;
const MAX_RSS_KB = 150 * 1024;
const TIME = "/usr/bin/time";

test("a 1 GiB sparse file is streamed with peak memory under 150 MB", { timeout: 300_000 }, async (t) => {
  try {
    await access(TIME);
  } catch {
    if (inCI()) throw new Error(`${TIME} is missing (apt-get install time): CI must have it`);
    t.skip(`${TIME} is not installed (apt-get install time)`);
    return;
  }
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  const file = await open(join(root, "sparse"), "w");
  await file.truncate(GIB);
  // A few real bytes at the end, so a layer of only zeros can't pass.
  await file.write(Buffer.from("the end\n"), 0, 8, GIB - 8);
  await file.close();
  await writeFile(join(root, "small"), "small\n");
  const layout = join(dir, "layout");
  const rssFile = join(dir, "rss");
  const result = await runProgram(
    TIME,
    ["-f", "%M", "-o", rssFile, process.execPath, BIN, "create", "-q", root, layout],
    { timeoutMs: 280_000, env: { SOURCE_DATE_EPOCH: "1700000000" } },
  );
  assert.equal(result.status, 0, result.stderr);
  const peakKb = Number((await readFile(rssFile, "utf8")).trim().split("\n").pop());
  t.diagnostic(`peak RSS ${Math.round(peakKb / 1024)} MB for a 1 GiB file`);
  assert.ok(peakKb > 0 && peakKb < MAX_RSS_KB, `peak RSS ${peakKb} kB is over ${MAX_RSS_KB} kB`);
  const { entries } = await checkImageStreaming(layout, "latest");
  assert.deepEqual(entries, [
    { name: "small", size: 6, tail: "small\n" },
    { name: "sparse", size: GIB, tail: "the end\n" },
  ]);
});
