/** ChunkSource: the PATCH bodies of a chunked upload, cut from one checked read of the blob. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { test } from "node:test";
import { DigestMismatchError } from "../../src/errors.js";
import { VerifyingStream, digestOf } from "../../src/image/digest.js";
import type { Descriptor } from "../../src/image/types.js";
import { ChunkSource } from "../../src/registry/chunk-source.js";

const MEDIA_TYPE = "application/octet-stream";

/** An opener over bytes in memory, read in 1000-byte pieces; records each open. */
function opener(bytes: Buffer, opens: string[]) {
  return (descriptor: Descriptor, start = 0, end?: number): Readable => {
    const whole = start === 0 && end === undefined;
    opens.push(whole ? "whole" : `${start}-${end}`);
    const slice = bytes.subarray(start, end);
    const pieces = Array.from({ length: Math.ceil(slice.length / 1000) }, (_, i) =>
      slice.subarray(i * 1000, (i + 1) * 1000),
    );
    const stream = Readable.from(pieces, { objectMode: false });
    return whole ? stream.pipe(new VerifyingStream(descriptor, undefined, undefined, { holdLast: true })) : stream;
  };
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test("chunks are cut in order from one checked read", async () => {
  const bytes = randomBytes(10_500);
  const descriptor = { mediaType: MEDIA_TYPE, digest: digestOf(bytes), size: bytes.length };
  const opens: string[] = [];
  const source = new ChunkSource(opener(bytes, opens), descriptor);
  const parts = [await read(source.body(0, 4096)), await read(source.body(4096, 8192))];
  parts.push(await read(source.body(8192, bytes.length)));
  await source.checked();
  assert.deepEqual(Buffer.concat(parts), bytes);
  assert.deepEqual(opens, ["whole"], "read once");
});

test("a chunk from another offset is read by range, and the check reads the whole blob again", async () => {
  const bytes = randomBytes(10_500);
  const descriptor = { mediaType: MEDIA_TYPE, digest: digestOf(bytes), size: bytes.length };
  const opens: string[] = [];
  const source = new ChunkSource(opener(bytes, opens), descriptor);
  assert.deepEqual(await read(source.body(0, 4096)), bytes.subarray(0, 4096));
  assert.deepEqual(await read(source.body(2048, bytes.length)), bytes.subarray(2048));
  await source.checked();
  assert.deepEqual(opens, ["whole", `2048-${bytes.length}`, "whole"]);
});

test("wrong bytes: the chunks fail before the last one ends, and so does the check after a range", async () => {
  const bytes = randomBytes(10_500);
  const descriptor = { mediaType: MEDIA_TYPE, digest: digestOf(randomBytes(16)), size: bytes.length };
  const source = new ChunkSource(opener(bytes, []), descriptor);
  const sent: Buffer[] = [];
  await assert.rejects(async () => {
    for (const [start, end] of [
      [0, 4096],
      [4096, 8192],
      [8192, bytes.length],
    ] as const) {
      for await (const chunk of source.body(start, end)) sent.push(chunk as Buffer);
    }
  }, DigestMismatchError);
  assert.ok(Buffer.concat(sent).length < bytes.length, "not every byte was handed out");
  const resumed = new ChunkSource(opener(bytes, []), descriptor);
  await read(resumed.body(4096, bytes.length));
  await assert.rejects(resumed.checked(), DigestMismatchError);
});
