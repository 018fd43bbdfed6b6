/** putBlobParts: a blob written in parts at their offsets, in any order, hashed in order and checked. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { DigestMismatchError } from "../../src/errors.js";
import { digestOf } from "../../src/image/digest.js";
import type { PartWriter } from "../../src/layout/blob-store.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { tempDir } from "../helpers/temp.js";

async function newLayout(t: TestContext): Promise<ImageLayout> {
  return ImageLayout.openOrCreate(join(await tempDir(t), "layout"));
}

async function tempFiles(layout: ImageLayout): Promise<string[]> {
  return (await readdir(layout.root)).filter((name) => name.startsWith(".oci-image-tmp-"));
}

/** Writes `data[start, end)` in batches of a few random sizes, each a few random chunks. */
async function writeSpan(writer: PartWriter, data: Buffer, start: number, end: number): Promise<void> {
  for (let at = start; at < end;) {
    const length = Math.min(end - at, 1 + Math.floor(Math.random() * 300_000));
    const cut = at + Math.floor(length / 2);
    await writer.write([data.subarray(at, cut), data.subarray(cut, at + length)], at);
    at += length;
  }
}

test("parts written at once, in any order, make the blob; its digest is checked over the whole", async (t) => {
  const layout = await newLayout(t);
  const data = randomBytes(5 * 1024 * 1024 + 123);
  const cuts = [0, 700_000, 1_900_000, 2_000_000, 4_500_000, data.length];
  const spans = cuts.slice(1).map((end, i) => [cuts[i]!, end] as const);
  const order = [3, 0, 4, 1, 2];
  let last = 0;
  const stored = await layout.putBlobParts(
    (writer) => Promise.all(order.map((i) => writeSpan(writer, data, spans[i]![0], spans[i]![1]))).then(() => {}),
    { expected: { digest: digestOf(data), size: data.length }, onProgress: (bytes) => (last = bytes) },
  );
  assert.deepEqual(stored, { digest: digestOf(data), size: data.length, existed: false });
  assert.ok((await readFile(layout.blobPath(stored.digest))).equals(data));
  assert.equal(last, data.length, "progress counts every byte once");
  assert.deepEqual(await tempFiles(layout), []);
  const again = await layout.putBlobParts(() => Promise.reject(new Error("not called")), {
    expected: { digest: digestOf(data), size: data.length },
  });
  assert.equal(again.existed, true);
});

test("a wrong byte, a gap, a part past the size, a failing fill: nothing stored, no temp file left", async (t) => {
  const layout = await newLayout(t);
  const data = randomBytes(3 * 1024 * 1024);
  const expected = { digest: digestOf(data), size: data.length };
  const wrong = Buffer.from(data);
  wrong[2_500_000]! ^= 1;
  await assert.rejects(
    layout.putBlobParts(
      (writer) =>
        Promise.all([writeSpan(writer, wrong, 2_000_000, wrong.length), writeSpan(writer, wrong, 0, 2_000_000)]).then(
          () => {},
        ),
      { expected },
    ),
    (error: Error) => error instanceof DigestMismatchError && /content digest is sha256:/.test(error.message),
  );
  await assert.rejects(
    layout.putBlobParts((writer) => writeSpan(writer, data, 1, data.length), { expected }),
    (error: Error) => error instanceof DigestMismatchError && /bytes, but its descriptor declares/.test(error.message),
  );
  await assert.rejects(
    layout.putBlobParts((writer) => writer.write([data], 1), { expected }),
    /a part at byte 1 reaches past the 3145728 bytes its descriptor declares/,
  );
  await assert.rejects(
    layout.putBlobParts(
      async (writer) => {
        await writer.write([data.subarray(1000, 2000)], 1000);
        throw new Error("the connection dropped");
      },
      { expected },
    ),
    /the connection dropped/,
  );
  assert.equal(await layout.hasBlob(expected.digest), false);
  assert.deepEqual(await tempFiles(layout), []);
});

test("an aborted signal stops the writes and removes the temp file", async (t) => {
  const layout = await newLayout(t);
  const data = randomBytes(1024 * 1024);
  const stop = new AbortController();
  await assert.rejects(
    layout.putBlobParts(
      async (writer) => {
        await writer.write([data.subarray(0, 1000)], 0);
        stop.abort();
        await writer.write([data.subarray(1000)], 1000);
      },
      { expected: { digest: digestOf(data), size: data.length }, signal: stop.signal },
    ),
    (error: Error) => error.name === "AbortError",
  );
  assert.deepEqual(await tempFiles(layout), []);
});
