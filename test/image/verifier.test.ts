/** The one verifier: size cap as bytes flow, size and digest at the end, always a DigestMismatchError. */
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { DigestMismatchError } from "../../src/errors.js";
import { ContentVerifier, DigestingStream, VerifyingStream, digestOf, verifyBytes } from "../../src/image/digest.js";

const BYTES = Buffer.from("hello, verifier");
const EXPECTED = { digest: digestOf(BYTES), size: BYTES.length };

function sink(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

test("ContentVerifier refuses the first byte past the size, and a wrong size or digest at the end", () => {
  const exact = new ContentVerifier(EXPECTED);
  exact.update(BYTES.subarray(0, 5));
  exact.update(BYTES.subarray(5));
  exact.finish();
  assert.equal(exact.digest(), EXPECTED.digest);
  const over = new ContentVerifier(EXPECTED);
  assert.throws(() => over.update(Buffer.concat([BYTES, Buffer.from("!")])), DigestMismatchError);
  const short = new ContentVerifier(EXPECTED);
  short.update(BYTES.subarray(1));
  assert.throws(() => short.finish(), /bytes, but its descriptor declares/);
  const wrong = new ContentVerifier({ digest: digestOf("other"), size: BYTES.length });
  wrong.update(BYTES);
  assert.throws(
    () => wrong.finish(),
    (error: unknown) => error instanceof DigestMismatchError && error.code === "DIGEST_MISMATCH",
  );
  const worded = new ContentVerifier({ digest: digestOf("other") });
  worded.update(BYTES);
  assert.throws(() => worded.finish((actual) => `diff_id ${actual} is wrong`), /^DigestMismatchError: diff_id sha256:/);
  const hashing = new ContentVerifier("sha512");
  hashing.update(BYTES);
  hashing.finish();
  assert.equal(hashing.digest(), digestOf(BYTES, "sha512"));
});

test("verifyBytes and the streams use the same checks", async () => {
  verifyBytes(BYTES, EXPECTED);
  assert.throws(() => verifyBytes(BYTES, { ...EXPECTED, digest: digestOf("x") }), DigestMismatchError);
  await pipeline(Readable.from([BYTES]), new VerifyingStream(EXPECTED), sink());
  await assert.rejects(
    pipeline(Readable.from([BYTES, BYTES]), new VerifyingStream(EXPECTED, "somewhere"), sink()),
    (error: unknown) => error instanceof DigestMismatchError && error.where === "somewhere",
  );
  const digesting = new DigestingStream();
  await pipeline(Readable.from([BYTES]), digesting, sink());
  assert.equal(digesting.algorithm, "sha256");
  assert.equal(digesting.digest(), EXPECTED.digest);
  assert.equal(digesting.size, BYTES.length);
});

test("holdLast: the last chunk passes only once the bytes match, so a consumer never gets all of wrong bytes", async () => {
  const received = (into: Buffer[]) =>
    new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        into.push(chunk);
        callback();
      },
    });
  const chunks = [BYTES.subarray(0, 5), BYTES.subarray(5, 10), BYTES.subarray(10)];
  const good: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    new VerifyingStream(EXPECTED, undefined, undefined, { holdLast: true }),
    received(good),
  );
  assert.deepEqual(Buffer.concat(good), BYTES);
  const wrong = Buffer.from(BYTES);
  wrong[12] = 0;
  const bad: Buffer[] = [];
  const holding = new VerifyingStream(EXPECTED, undefined, undefined, { holdLast: true, what: "the file" });
  await assert.rejects(
    pipeline(Readable.from([wrong.subarray(0, 5), wrong.subarray(5, 10), wrong.subarray(10)]), holding, received(bad)),
    DigestMismatchError,
  );
  assert.deepEqual(Buffer.concat(bad), wrong.subarray(0, 10), "all but the last chunk");
  const long = new VerifyingStream(EXPECTED, undefined, undefined, { what: "the file" });
  await assert.rejects(
    pipeline(Readable.from([BYTES, BYTES]), long, sink()),
    /^DigestMismatchError: the file: more than/,
  );
});
