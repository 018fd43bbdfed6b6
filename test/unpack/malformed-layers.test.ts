/**
 * Malformed and oddly ended layer tars through the real CLI: each malformed
 * shape ends `unpack` with a one-line error, exit 1 and no bundle, and
 * `validate` with a finding and exit 1, within seconds; tars that end without
 * their end-of-archive marker are read as complete (a warning), and entries
 * after the marker are never applied.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { buildTar, writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { rawEntry, rawTar } from "./harness.js";
import { FIELD, withField } from "./tar-shapes.js";

interface Finding {
  rule: string;
  message: string;
}

interface Outcome {
  unpack: { status: number | null; stderr: string; bundle: string; ms: number };
  validate: { status: number | null; errors: Finding[]; warnings: Finding[]; ms: number };
}

/** Unpacks and validates an image of the one layer `tar` (uncompressed, so the bytes are exactly these). */
async function run(t: TestContext, tar: Buffer): Promise<Outcome> {
  const dir = await tempDir(t, "oci-image-malformed-");
  const layout = join(dir, "layout");
  await writeTestImage(layout, { layers: [tar], compression: "none" });
  const bundle = join(dir, "bundle");
  let start = Date.now();
  const unpacked = await runOciImage(["unpack", layout, bundle], { timeoutMs: 20_000 });
  const unpackMs = Date.now() - start;
  start = Date.now();
  const validated = await runOciImage(["validate", "--json", layout], { timeoutMs: 20_000 });
  const validateMs = Date.now() - start;
  for (const text of [unpacked.stderr, validated.stderr, validated.stdout])
    assert.ok(!hasStackTrace(text), `stack trace:\n${text}`);
  const report = JSON.parse(validated.stdout || "{}") as { errors?: Finding[]; warnings?: Finding[] };
  return {
    unpack: { status: unpacked.status, stderr: unpacked.stderr, bundle, ms: unpackMs },
    validate: {
      status: validated.status,
      errors: report.errors ?? [],
      warnings: report.warnings ?? [],
      ms: validateMs,
    },
  };
}

/** unpack: exit 1, one line naming the problem, no bundle; validate: that rule, exit 1; both within seconds. */
function assertRefused(outcome: Outcome, message: RegExp, rule: string): void {
  const { unpack, validate } = outcome;
  assert.equal(unpack.status, 1, unpack.stderr);
  assert.match(unpack.stderr, message);
  assert.equal(unpack.stderr.trim().split("\n").length, 1, unpack.stderr);
  assert.equal(existsSync(unpack.bundle), false, "the bundle is removed");
  assert.equal(validate.status, 1);
  assert.ok(
    validate.errors.some((e) => e.rule === rule && message.test(e.message)),
    JSON.stringify(validate.errors),
  );
  assert.ok(unpack.ms < 10_000 && validate.ms < 10_000, `took ${unpack.ms} ms and ${validate.ms} ms`);
}

const twoFiles = () =>
  buildTar([
    { name: "a", content: "alpha" },
    { name: "b", content: "bravo" },
  ]);

test("a base-256 size with a bad first byte is refused at once (it used to hang)", async (t) => {
  const tar = withField(await twoFiles(), 0, FIELD.size, [0x81, ...Array<number>(11).fill(0x41)]);
  assertRefused(await run(t, tar), /tar header at byte 0 has a base-256 size field out of range/, "layer-tar-invalid");
});

test("header bytes flipped with the checksum fixed: the field is named", async (t) => {
  const base = await twoFiles();
  const flipped = withField(base, 1024, FIELD.mtime, Buffer.from("17\u00ff34567012\0", "latin1"));
  assertRefused(await run(t, flipped), /byte 1024 has a mtime field that is not an octal number/, "layer-tar-invalid");
  const mode = withField(base, 0, FIELD.mode, Buffer.from("07x4\0\0\0\0"));
  assertRefused(await run(t, mode), /byte 0 has a mode field/, "layer-tar-invalid");
});

test("owner ids, times and device numbers no file system takes: the entry and the field are named", async (t) => {
  const base = await twoFiles();
  const uid = withField(base, 0, FIELD.uid, [0x80, 0, 0, 1, 0, 0, 0, 0]);
  assertRefused(
    await run(t, uid),
    /entry \/a has uid 4294967296, which no file system takes/,
    "layer-field-out-of-range",
  );
  const mtime = withField(base, 1024, FIELD.mtime, [0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  assertRefused(await run(t, mtime), /entry \/b has mtime \d+, which no file system takes/, "layer-field-out-of-range");
  const device = withField(rawTar(rawEntry({ name: "null", typeflag: "3" })), 0, 329, Array<number>(8).fill(0xff));
  assertRefused(
    await run(t, device),
    /entry \/null has devmajor -1, which no file system takes/,
    "layer-field-out-of-range",
  );
});

test("entries after the end-of-archive marker are not applied; validate warns", async (t) => {
  const tar = Buffer.concat([
    await buildTar([{ name: "a", content: "1" }]),
    await buildTar([{ name: "evil", content: "2" }]),
  ]);
  const { unpack, validate } = await run(t, tar);
  assert.equal(unpack.status, 0, unpack.stderr);
  assert.deepEqual(await readdir(join(unpack.bundle, "rootfs")), ["a"]);
  assert.match(unpack.stderr, /data after the tar's end-of-archive marker is ignored/);
  assert.equal(validate.status, 0, JSON.stringify(validate.errors));
  assert.deepEqual(
    validate.warnings.map((w) => w.rule),
    ["layer-tar-data-after-end"],
  );
});

test("a tar ending right after its last entry's data (no padding, no marker) is complete; cut inside data is not", async (t) => {
  const tar = await buildTar([
    { name: "a", content: "alpha" },
    { name: "b", content: "x".repeat(700) },
  ]);
  for (const length of [512 + 512 + 512 + 700, 512 + 512 + 512 + 1024]) {
    const { unpack, validate } = await run(t, tar.subarray(0, length));
    assert.equal(unpack.status, 0, unpack.stderr);
    assert.equal(await readFile(join(unpack.bundle, "rootfs", "b"), "utf8"), "x".repeat(700));
    assert.equal(validate.status, 0, JSON.stringify(validate.errors));
    assert.deepEqual(
      validate.warnings.map((w) => w.rule),
      ["layer-tar-end-missing"],
    );
  }
  assertRefused(
    await run(t, tar.subarray(0, 512 + 512 + 512 + 600)),
    /Unexpected end of data: the stream ends inside the data of "b"/,
    "layer-tar-invalid",
  );
  assertRefused(
    await run(t, tar.subarray(0, 512 + 512 + 200)),
    /Unexpected end of data: the stream ends inside the tar header at byte 1024/,
    "layer-tar-invalid",
  );
});

test("validate judges names as unpack applies them: AUFS metadata skipped, lengths in bytes", async (t) => {
  const plnk = await buildTar([
    { name: ".wh..wh.plnk/123.456", content: "aufs" },
    { name: "a", content: "alpha" },
  ]);
  const skipped = await run(t, plnk);
  assert.equal(skipped.unpack.status, 0, skipped.unpack.stderr);
  assert.match(skipped.unpack.stderr, /\/\.wh\.\.wh\.plnk\/123\.456: AUFS metadata, skipped/);
  assert.deepEqual(await readdir(join(skipped.unpack.bundle, "rootfs")), ["a"]);
  assert.equal(skipped.validate.status, 0, JSON.stringify(skipped.validate.errors));
  assert.deepEqual(
    skipped.validate.warnings.map((w) => w.rule),
    ["layer-whiteout-meta"],
  );
  const wide = await buildTar([{ name: `${"é".repeat(2100)}`, content: "x" }]);
  assertRefused(await run(t, wide), /entry name is 4200 bytes, over the 4096-byte limit/, "layer-path-too-long");
});
