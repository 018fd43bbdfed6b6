/** When one stream of a large blob is split into ranges. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SPLIT_MEASURE_MS, SPLIT_WORTH_MS, worthSplitting } from "../../src/registry/range-split.js";

const MB = 1_000_000;

test("no verdict before the stream has run long enough to measure", () => {
  assert.equal(worthSplitting({ bytes: 1 * MB, elapsedMs: SPLIT_MEASURE_MS - 1, remaining: 300 * MB }), undefined);
});

test("a slow stream with much left is split", () => {
  // 8 MB/s, 300 MB left: about 37 s alone.
  assert.equal(worthSplitting({ bytes: 0.8 * MB, elapsedMs: 100, remaining: 300 * MB }), true);
});

test("a fast stream that will be done soon is not split", () => {
  // Loopback: 1 GB/s, 60 MB left: 60 ms.
  assert.equal(worthSplitting({ bytes: 100 * MB, elapsedMs: 100, remaining: 60 * MB }), false);
});

test("the boundary is the rest's time at the measured rate", () => {
  const rate = 10 * MB; // bytes per second
  const justOver = (rate * (SPLIT_WORTH_MS + 10)) / 1000;
  const justUnder = (rate * (SPLIT_WORTH_MS - 10)) / 1000;
  const measured = { bytes: (rate * SPLIT_MEASURE_MS) / 1000, elapsedMs: SPLIT_MEASURE_MS };
  assert.equal(worthSplitting({ ...measured, remaining: justOver }), true);
  assert.equal(worthSplitting({ ...measured, remaining: justUnder }), false);
});

test("nothing received after the first chunk: split", () => {
  assert.equal(worthSplitting({ bytes: 0, elapsedMs: 200, remaining: 40 * MB }), true);
});
