/**
 * The contract's smaller points, through the real CLI: a missing or unknown
 * command is a usage error (exit 2, help on stderr), the common flags work
 * before the command, and counts of one read in the singular.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { commonFlagsAfterCommand } from "../../src/cli.js";
import { count } from "../../src/ui/format.js";

test("oci-image with no arguments is a usage error: exit 2, help on stderr, nothing on stdout", async () => {
  const result = await runOciImage([]);
  assert.equal(result.status, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Usage: oci-image/);
  assert.match(result.stderr, /fetch/);
});

test("help for an unknown command is a usage error: exit 2, help on stderr", async () => {
  const result = await runOciImage(["help", "nope"]);
  assert.equal(result.status, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Usage: oci-image/);
});

test("help asked for is a success on stdout: `help`, `help <command>`, `--help`", async () => {
  for (const args of [["help"], ["help", "validate"], ["--help"], ["validate", "--help"]]) {
    const result = await runOciImage(args);
    assert.equal(result.status, 0, args.join(" "));
    assert.match(result.stdout, /Usage: oci-image/, args.join(" "));
  }
});

test("--json, -q and --debug are accepted before the command", async (t) => {
  const dir = await tempDir(t);
  const json = await runOciImage(["--json", "validate", join(dir, "missing")]);
  assert.equal(json.status, 1);
  assert.equal((JSON.parse(json.stdout) as { valid: boolean }).valid, false);

  await mkdir(join(dir, "tree"));
  await writeFile(join(dir, "tree", "hello"), "hello\n");
  const quiet = await runOciImage(["-q", "create", join(dir, "tree"), join(dir, "images")]);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stderr, "");
  assert.match(quiet.stdout, /^sha256:[0-9a-f]{64}\n$/);

  const both = await runOciImage(["--debug", "--json", "-q", "validate", join(dir, "images")]);
  assert.equal(both.status, 0, both.stdout);
  assert.equal((JSON.parse(both.stdout) as { valid: boolean }).valid, true);
  assert.equal(both.stderr, "");
});

test("the same flags after the command still work, and a flag no command knows is still a usage error", async (t) => {
  const dir = await tempDir(t);
  const after = await runOciImage(["validate", join(dir, "missing"), "--json"]);
  assert.equal((JSON.parse(after.stdout) as { valid: boolean }).valid, false);
  const unknown = await runOciImage(["--frobnicate", "validate", dir]);
  assert.equal(unknown.status, 2);
});

test("flags before the command are moved after it, and only those", () => {
  assert.deepEqual(commonFlagsAfterCommand(["--json", "-q", "validate", "x"]), ["validate", "--json", "-q", "x"]);
  assert.deepEqual(commonFlagsAfterCommand(["--debug", "--json", "fetch", "a", "b"]), [
    "--debug",
    "fetch",
    "--json",
    "a",
    "b",
  ]);
  assert.deepEqual(commonFlagsAfterCommand(["validate", "--json", "x"]), ["validate", "--json", "x"]);
  assert.deepEqual(commonFlagsAfterCommand(["--json", "help", "validate"]), ["--json", "help", "validate"]);
});

test("counts of one are singular: 1 ref, 1 blob, 1 layer", async (t) => {
  assert.equal(count(1, "ref"), "1 ref");
  assert.equal(count(2, "ref"), "2 refs");
  assert.equal(count(0, "layer"), "0 layers");
  assert.equal(count(1, "entry", "entries"), "1 entry");
  assert.equal(count(3, "entry", "entries"), "3 entries");

  const dir = await tempDir(t);
  const layout = join(dir, "images");
  await writeTestImage(layout, { layers: [[{ name: "hello", content: "hi\n" }]], tag: "one" });
  const validate = await runOciImage(["validate", layout]);
  assert.equal(validate.status, 0, validate.stdout);
  assert.match(validate.stdout, /\(layout: 1 ref, 3 blobs, 1 layer read; 0 errors, 0 warnings\)/);
  const unpack = await runOciImage(["unpack", "--rootless", `${layout}:one`, join(dir, "bundle")]);
  assert.equal(unpack.status, 0, unpack.stderr);
  assert.match(unpack.stdout, /\(linux\/amd64, 1 layer\)/);
});
