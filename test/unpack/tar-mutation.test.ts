/**
 * Bounded mutation test: a few hundred seeded mutations of one tar (header
 * bytes flipped with and without the checksum fixed up, numeric fields
 * rewritten, base-256 flags set, cuts). Each applies in-process, where it
 * must resolve or reject with an OciImageError within seconds and write
 * nothing outside the rootfs; a sample also runs through the CLI's unpack and
 * validate, which must exit 0 or 1.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isOciImageError } from "../../src/errors.js";
import { applyLayer } from "../../src/layer/apply-layer.js";
import { makeTreeWritable } from "../../src/layer/make-tree-writable.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot } from "../helpers/tools.js";
import { diffSnapshots, snapshotTree } from "../helpers/tree-snapshot.js";
import { mutate, sampleTar, seededRandom } from "./tar-shapes.js";

const SEED = 20261201;
const MUTATIONS = 300;
const CLI_SAMPLE = 6;
/** Far above what one small tar takes; only a hang gets near it. */
const DEADLINE_MS = 5_000;

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DEADLINE_MS} ms: ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

test(`${MUTATIONS} mutated tars: each applies or fails with a coded error, in time, inside the rootfs`, async (t) => {
  const dir = await tempDir(t, "oci-image-mutation-");
  await mkdir(join(dir, "outside"));
  await writeFile(join(dir, "outside", "secret"), "do not touch\n");
  const rootfs = join(dir, "work", "rootfs");
  const before = await snapshotTree(dir, { mtimes: true, exclude: ["work"] });
  const base = await sampleTar();
  const random = seededRandom(SEED);
  const outcomes = { applied: 0, refused: 0 };
  for (let i = 0; i < MUTATIONS; i++) {
    const { tar, what } = mutate(base, random);
    await mkdir(rootfs, { recursive: true });
    try {
      const applying = applyLayer(Readable.from([tar]), rootfs, { rootless: !isRoot(), label: `mutation ${i}` });
      await withDeadline(applying, `mutation ${i} (${what})`);
      outcomes.applied++;
    } catch (error) {
      assert.ok(isOciImageError(error), `mutation ${i} (${what}) failed without a code: ${String(error)}`);
      assert.ok(!/\n/.test(error.message), `mutation ${i}: a one-line message, got ${error.message}`);
      outcomes.refused++;
    }
    await makeTreeWritable(rootfs);
    await rm(join(dir, "work"), { recursive: true, force: true });
    await mkdir(join(dir, "work"));
    const after = await snapshotTree(dir, { mtimes: true, exclude: ["work"] });
    assert.deepEqual(diffSnapshots(before, after), [], `mutation ${i} (${what}) changed something outside the rootfs`);
  }
  // Both outcomes occur: the test is not passing by refusing (or applying) everything.
  assert.ok(outcomes.applied > 20 && outcomes.refused > 20, JSON.stringify(outcomes));
});

test(`a sample of mutated tars through the CLI: exit 0 or 1, in time, no stack trace`, async (t) => {
  const dir = await tempDir(t, "oci-image-mutation-cli-");
  const base = await sampleTar();
  const random = seededRandom(SEED + 1);
  for (let i = 0; i < CLI_SAMPLE; i++) {
    const { tar, what } = mutate(base, random);
    const layout = join(dir, `layout-${i}`);
    const bundle = join(dir, `bundle-${i}`);
    await writeTestImage(layout, { layers: [tar], compression: "gzip" });
    const unpack = await runOciImage(["unpack", layout, bundle], { timeoutMs: 15_000 });
    assert.ok(
      unpack.status === 0 || unpack.status === 1,
      `unpack of mutation ${i} (${what}): ${unpack.status} ${unpack.signal}`,
    );
    assert.ok(!hasStackTrace(unpack.stderr), unpack.stderr);
    if (unpack.status === 1) assert.equal(existsSync(bundle), false, `mutation ${i}: the bundle is removed`);
    const validate = await runOciImage(["validate", "--json", layout], { timeoutMs: 15_000 });
    assert.ok(
      validate.status === 0 || validate.status === 1,
      `validate of mutation ${i} (${what}): ${validate.status}`,
    );
    const report = JSON.parse(validate.stdout) as { valid: boolean; errors: unknown[] };
    assert.equal(report.valid, validate.status === 0);
    if (validate.status === 1) assert.ok(report.errors.length > 0, validate.stdout);
  }
});
