/** The small helpers every layer may use: the concurrency limiter and the atomic write. */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { TEMP_PREFIX, writeFileAtomic } from "../../src/util/atomic-write.js";
import { runLimited } from "../../src/util/concurrency.js";
import { tempDir } from "../helpers/temp.js";

test("runLimited: at most `limit` at once, results in the jobs' order", async () => {
  let running = 0;
  let most = 0;
  const jobs = Array.from({ length: 10 }, (_, i) => async () => {
    running++;
    most = Math.max(most, running);
    await sleep(10 - i);
    running--;
    return i * 2;
  });
  assert.deepEqual(await runLimited(jobs, 3), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  assert.equal(most, 3);
  assert.deepEqual(await runLimited([], 3), []);
});

test("runLimited: the first failure rejects once the running jobs settled; no new job starts", async () => {
  const started: number[] = [];
  const jobs = Array.from({ length: 6 }, (_, i) => async () => {
    started.push(i);
    await sleep(i === 0 ? 30 : 5);
    if (i === 1) throw new Error("job 1 failed");
    return i;
  });
  await assert.rejects(runLimited(jobs, 2), /job 1 failed/);
  assert.deepEqual(started, [0, 1]);
});

test("writeFileAtomic: the new content, mode 0644, fsynced, and no temp file left, also on failure", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "doc.json");
  await writeFileAtomic(path, "one\n");
  await writeFileAtomic(path, "two\n");
  assert.equal(await readFile(path, "utf8"), "two\n");
  assert.equal((await stat(path)).mode & 0o777, 0o644);
  await mkdir(join(dir, "a-directory"));
  await assert.rejects(writeFileAtomic(join(dir, "a-directory"), "x"), { code: "EISDIR" });
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX)),
    [],
  );
});
