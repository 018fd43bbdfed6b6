/**
 * Progress in pipes and CI: no escape sequences, no live lines, one plain line
 * per finished step on stderr (fetch: per blob, in terminal-fetch.test.ts).
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";

const ESC = "\u001b";

test("create in a pipe: one line for the layer it wrote, nothing drawn", async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, "tree"));
  await writeFile(join(dir, "tree", "hello"), "hello\n");
  const result = await runOciImage(["create", join(dir, "tree"), join(dir, "images")], { env: { CI: "" } });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(!result.stderr.includes(ESC), "escape sequences in a pipe");
  assert.match(result.stderr, /^layer sha256:[0-9a-f]{64} \(\d+ bytes, \d+ uncompressed\)\n$/);
});

test("unpack in a pipe: one line per layer applied, nothing drawn", async (t) => {
  const dir = await tempDir(t);
  const layers = [0, 1, 2].map((i) => [{ name: `f${i}`, content: `${i}\n` }]);
  await writeTestImage(join(dir, "images"), { layers, tag: "three" });
  const result = await runOciImage(["unpack", "--rootless", `${join(dir, "images")}:three`, join(dir, "bundle")], {
    env: { CI: "" },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(!result.stderr.includes(ESC), "escape sequences in a pipe");
  const lines = result.stderr.trimEnd().split("\n");
  assert.deepEqual(
    lines.map((line) => line.replace(/ \(sha256:.*$/, "")),
    ["applied layer 1/3", "applied layer 2/3", "applied layer 3/3"],
  );
});

test("validate in a pipe: the result only, no progress", async (t) => {
  const dir = await tempDir(t);
  await writeTestImage(join(dir, "images"), { layers: [[{ name: "a", content: "a\n" }]], tag: "one" });
  const result = await runOciImage(["validate", join(dir, "images")], { env: { CI: "" } });
  assert.equal(result.status, 0, result.stdout);
  assert.equal(result.stderr, "");
});
