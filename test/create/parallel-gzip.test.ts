/** Parallel gzip members: valid gzip of the exact input, deterministic, in order. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { ParallelGzip } from "../../src/layer/parallel-gzip.js";

async function compress(
  input: Buffer,
  options: ConstructorParameters<typeof ParallelGzip>[0],
  pieceSize = 1000,
): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < input.length; offset += pieceSize)
    pieces.push(input.subarray(offset, offset + pieceSize));
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from(pieces).pipe(new ParallelGzip(options))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Member headers zlib writes (magic, deflate, no flags, mtime 0); 8 such bytes inside deflate data are improbable. */
function countMembers(gz: Buffer): number {
  let count = 0;
  let rest = gz;
  while (rest.length > 0) {
    const next = rest.indexOf(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]), 1);
    count++;
    if (next < 0) break;
    rest = rest.subarray(next);
  }
  return count;
}

const CHUNK = 64 * 1024;

for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123]) {
  test(`${size} bytes round-trip through gunzip and gzip -d`, async () => {
    const input = Buffer.concat([
      randomBytes(Math.floor(size / 2)),
      Buffer.alloc(size - Math.floor(size / 2), "text "),
    ]);
    const gz = await compress(input, { chunkSize: CHUNK, concurrency: 3, level: 6 });
    assert.deepEqual(gunzipSync(gz), input);
    assert.deepEqual(execFileSync("gzip", ["-dc"], { input: gz, maxBuffer: 64 * 1024 * 1024 }), input);
  });
}

test("input is cut into one member per chunk, in order, and the output is the same every time", async () => {
  const input = Buffer.concat(Array.from({ length: 10 }, (_, i) => Buffer.alloc(CHUNK, String(i))));
  const first = await compress(input, { chunkSize: CHUNK, concurrency: 4 }, 777);
  const second = await compress(input, { chunkSize: CHUNK, concurrency: 2 }, 4096);
  assert.deepEqual(first, second, "cut points depend on byte counts only");
  assert.equal(countMembers(first), 10);
  assert.deepEqual(gunzipSync(first), input);
});
