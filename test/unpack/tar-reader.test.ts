/** Unit tests of the tar reader: every malformed shape ends in an error naming what is wrong; the end as tar reads it. */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import { test } from "node:test";
import { buildTar } from "../helpers/image-builder.js";
import { TarReader, type TarEnd } from "../../src/layer/tar-reader.js";
import { paxRecords, rawEntry, rawTar } from "./harness.js";
import { FIELD, withField } from "./tar-shapes.js";

interface ReadResult {
  names: string[];
  contents: string[];
  end: TarEnd;
}

async function read(tar: Buffer, chunk = 7000): Promise<ReadResult> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(tar.subarray(i, i + chunk));
  const reader = new TarReader(Readable.from(chunks), { label: "layer test" });
  const names: string[] = [];
  const contents: string[] = [];
  for await (const entry of reader) {
    names.push(entry.header.name);
    const parts: Buffer[] = [];
    for await (const part of entry.body()) parts.push(part);
    contents.push(Buffer.concat(parts).toString());
  }
  return { names, contents, end: reader.end };
}

async function rejects(tar: Buffer, message: RegExp, code = "LAYER_INVALID_TAR"): Promise<void> {
  await assert.rejects(read(tar), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

const twoFiles = () =>
  buildTar([
    { name: "a", content: "alpha" },
    { name: "b", content: "bravo" },
  ]);

test("a well-formed tar reads entry by entry, in any chunking", async () => {
  const tar = await twoFiles();
  for (const chunk of [1, 100, 512, 513, 1 << 20]) {
    const result = await read(tar, chunk);
    assert.deepEqual(result.names, ["a", "b"]);
    assert.deepEqual(result.contents, ["alpha", "bravo"]);
    assert.deepEqual(result.end, { dataAfterEnd: false, globalHeaders: 0 });
  }
});

test("numeric fields: a base-256 size with a bad first byte, non-octal digits, a wrong checksum", async () => {
  const tar = await twoFiles();
  const huge = [0x81, ...Array<number>(11).fill(0xff)];
  await rejects(withField(tar, 0, FIELD.size, huge), /header at byte 0 has a base-256 size field out of range/);
  await rejects(withField(tar, 0, FIELD.size, Buffer.from("0000000009z\0")), /size field that is not an octal/);
  await rejects(withField(tar, 512 * 2, FIELD.uid, Buffer.from("12x4567\0")), /byte 1024 has a uid field/);
  await rejects(withField(tar, 0, FIELD.size, [0xff, ...Array<number>(11).fill(0xff)]), /negative size/);
  const flipped = Buffer.from(tar);
  flipped[10] = 0x41;
  await rejects(flipped, /header at byte 0 has a wrong checksum/);
  // A well-formed base-256 size is read (GNU tar writes them above 8 GiB).
  const base256 = withField(tar, 0, FIELD.size, [0x80, ...Array<number>(10).fill(0), 5]);
  assert.deepEqual((await read(base256)).contents, ["alpha", "bravo"]);
});

test("cut inside a header or inside data is an error; cut after the data is complete", async () => {
  const tar = await buildTar([{ name: "a", content: "x".repeat(700) }]);
  await rejects(tar.subarray(0, 300), /Unexpected end of data: the stream ends inside the tar header at byte 0/);
  await rejects(tar.subarray(0, 512 + 600), /Unexpected end of data: the stream ends inside the data of "a"/);
  for (const [length, missing] of [
    [512 + 700, "padding"],
    [512 + 900, "padding"],
    [512 + 1024, "marker"],
    [512 + 1024 + 512, "marker"],
    [512 + 1024 + 700, "marker"],
  ] as const) {
    const result = await read(tar.subarray(0, length));
    assert.deepEqual(result.names, ["a"], `cut at ${length}`);
    assert.equal(result.end.missing, missing, `cut at ${length}`);
  }
  assert.equal((await read(tar)).end.missing, undefined);
});

test("entries after the end-of-archive marker are not read; data after it is noted", async () => {
  const first = await buildTar([{ name: "a", content: "1" }]);
  const second = await buildTar([{ name: "evil", content: "2" }]);
  const after = await read(Buffer.concat([first, second]));
  assert.deepEqual(after.names, ["a"]);
  assert.equal(after.end.dataAfterEnd, true);
  // A lone zero block ends the archive too, as GNU tar reads it.
  const lone = Buffer.concat([first.subarray(0, first.length - 1024), Buffer.alloc(512), second]);
  assert.deepEqual((await read(lone)).names, ["a"]);
  // Zero padding to a record size is not data.
  const padded = await read(Buffer.concat([first, Buffer.alloc(9216)]));
  assert.equal(padded.end.dataAfterEnd, false);
});

test("extended headers: capped at 1 MiB, malformed records refused, long names and PAX applied", async () => {
  const big = rawTar(
    rawEntry({ name: "p", typeflag: "x" }, paxRecords({ a: "x".repeat(600_000) })),
    rawEntry({ name: "q", typeflag: "x" }, paxRecords({ b: "y".repeat(600_000) })),
    rawEntry({ name: "f", typeflag: "0" }),
  );
  await rejects(big, /over the 1048576-byte limit/, "LAYER_HEADER_TOO_LARGE");
  const bad = rawTar(
    rawEntry({ name: "p", typeflag: "x" }, Buffer.from("99 path=x\n")),
    rawEntry({ name: "f", typeflag: "0" }),
  );
  await rejects(bad, /malformed PAX record/);
  const badSize = rawTar(
    rawEntry({ name: "p", typeflag: "x" }, paxRecords({ size: "-5" })),
    rawEntry({ name: "f", typeflag: "0" }),
  );
  await rejects(badSize, /PAX record size=-5 is not a whole number/);
  const named = rawTar(
    rawEntry({ name: "././@LongLink", typeflag: "L" }, Buffer.from(`${"n".repeat(300)}\0`)),
    rawEntry({ name: "short", typeflag: "0" }, Buffer.from("long")),
    rawEntry({ name: "p", typeflag: "x" }, paxRecords({ path: "from-pax", size: "3" })),
    rawEntry({ name: "f", typeflag: "0", size: 3 } as never, Buffer.from("pax")),
    rawEntry({ name: "g", typeflag: "g" }, paxRecords({ path: "ignored" })),
    rawEntry({ name: "last", typeflag: "0" }),
  );
  const result = await read(named);
  assert.deepEqual(result.names, ["n".repeat(300), "from-pax", "last"]);
  assert.deepEqual(result.contents, ["long", "pax", ""]);
  assert.equal(result.end.globalHeaders, 1);
  await rejects(rawEntry({ name: "p", typeflag: "x" }, paxRecords({ path: "x" })), /ends after an extended header/);
});

test("a stream error surfaces as it is when it is ours, labelled otherwise", async () => {
  const failing = new Readable({ read() {} });
  const reader = new TarReader(failing, { label: "layer test" });
  setImmediate(() => failing.destroy(new Error("disk on fire")));
  await assert.rejects(
    (async () => {
      for await (const entry of reader) void entry;
    })(),
    { code: "LAYER_INVALID_TAR", message: /layer test could not be read: disk on fire/ },
  );
});

test("an abort ends a read waiting for data, and no abort listener is left behind", async () => {
  const controller = new AbortController();
  const stalled = new Readable({ read() {} });
  stalled.push((await buildTar([{ name: "a", content: "x".repeat(2000) }])).subarray(0, 1000));
  const reader = new TarReader(stalled, { label: "layer test", signal: controller.signal });
  const reading = (async () => {
    for await (const entry of reader) for await (const chunk of entry.body()) void chunk;
  })();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(reading, { code: "ABORTED" });
  const done = new AbortController();
  const withSignal = new TarReader(Readable.from([await twoFiles()]), { label: "x", signal: done.signal });
  for await (const entry of withSignal) void entry;
  assert.equal(EventEmitter.getEventListeners(done.signal, "abort").length, 0);
});
