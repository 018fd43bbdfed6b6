/** The benchmark harness's measuring core, on commands that take no time (the benchmark itself is not part of the tests). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeFailure, runOperation, type Operation } from "../../bench/measure.js";
import { formatMarkdown, formatTable } from "../../bench/report.js";

const quiet = { log: () => {} };

test("candidates alternate run by run and every counted run is kept", async () => {
  const order: string[] = [];
  const operation: Operation = {
    id: "demo",
    group: "startup",
    title: "demo",
    candidates: [
      { name: "ours", role: "ours", argv: ["true"], prepare: async () => void order.push("A") },
      { name: "theirs", role: "peer", argv: ["true"], prepare: async () => void order.push("B") },
    ],
  };
  const result = await runOperation(operation, { runs: 3, warmup: 1, ...quiet });
  assert.deepEqual(order, ["A", "B", "A", "B", "A", "B", "A", "B"]);
  const [ours, theirs] = result.candidates;
  assert.equal(ours!.samples.length, 3);
  assert.equal(theirs!.samples.length, 3);
  for (const sample of [...ours!.samples, ...theirs!.samples]) {
    assert.ok(sample.seconds > 0 && sample.seconds < 10);
    assert.ok(sample.peakKiB > 0, "GNU time reported the peak memory");
  }
  assert.equal(result.comparisons.length, 1);
  assert.equal(result.comparisons[0]!.against, "theirs");
  const comparison = result.comparisons[0]!;
  assert.equal(comparison.ratio, ours!.median! / theirs!.median!);
  const perRound = ours!.samples.map((sample, i) => sample.seconds / theirs!.samples[i]!.seconds);
  assert.equal(comparison.ratioMin, Math.min(...perRound));
  assert.equal(comparison.ratioMax, Math.max(...perRound));
});

test("a command that is not built yet is reported as not available, and the others still run", async () => {
  const operation: Operation = {
    id: "demo",
    group: "fetch",
    title: "demo",
    candidates: [
      { name: "ours", role: "ours", argv: ["sh", "-c", "echo 'oci-image: fetch is not built yet' >&2; exit 1"] },
      { name: "theirs", role: "peer", argv: ["true"] },
    ],
  };
  const result = await runOperation(operation, { runs: 2, warmup: 1, ...quiet });
  assert.equal(result.candidates[0]!.unavailable, "not available (the command is not built yet)");
  assert.equal(result.candidates[1]!.samples.length, 2);
  assert.deepEqual(result.comparisons, []);
  assert.match(formatTable([result]), /not available/);
  assert.match(formatMarkdown([result]), /^\| demo \(n=2\) \| ours \| not available/m);
});

test("a failing peer is reported with its exit status and error line", () => {
  assert.equal(describeFailure(3, "file:///x.js:2\n\nTypeError: boom\n    at y"), "failed (exit 3): TypeError: boom");
  assert.equal(
    describeFailure(1, "oci-image: the registry said no\n"),
    "failed (exit 1): oci-image: the registry said no",
  );
});
