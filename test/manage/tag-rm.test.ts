/** `tag` and `rm` on a layout, and what every command here does with bad input: one line, nothing changed. */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { writeMixedLayoutApart } from "./layouts.js";

async function refs(layout: string): Promise<Map<string | null, string>> {
  const listed = await runOciImage(["ls", "--json", layout]);
  assert.equal(listed.status, 0, listed.stderr);
  return new Map((JSON.parse(listed.stdout) as { ref: string | null; digest: string }[]).map((r) => [r.ref, r.digest]));
}

test("tag adds names for the same descriptor and says when it moves one; rm removes entries", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  const before = await refs(layout);
  const tagged = await runOciImage(["tag", `${layout}:plain`, "latest", "1.0"]);
  assert.equal(tagged.status, 0, tagged.stderr);
  let after = await refs(layout);
  assert.equal(after.get("latest"), before.get("plain"));
  assert.equal(after.get("1.0"), before.get("plain"));
  const moved = await runOciImage(["tag", "--json", `${layout}:other`, "latest"]);
  assert.equal(moved.status, 0, moved.stderr);
  assert.deepEqual(JSON.parse(moved.stdout).tagged, [
    { ref: "latest", digest: before.get("other"), replaced: before.get("plain") },
  ]);
  const human = await runOciImage(["tag", `${layout}:plain`, "latest"]);
  assert.match(human.stdout, /^latest -> sha256:[0-9a-f]{64} \(replaced sha256:[0-9a-f]{12}\)$/m);
  after = await refs(layout);
  assert.equal(after.get("latest"), before.get("plain"));
  const removed = await runOciImage(["rm", `${layout}:latest`, `${layout}:1.0`]);
  assert.equal(removed.status, 0, removed.stderr);
  assert.deepEqual(await refs(layout), before);
});

test("bad input: one-line errors, exit 1 (2 for usage), nothing changed", async (t) => {
  const dir = await tempDir(t);
  const layout = join(dir, "layout");
  await writeMixedLayoutApart(layout);
  const plain = join(dir, "not-a-layout");
  await mkdir(plain);
  const cases: [string[], number, RegExp][] = [
    [["rm", `${layout}:plain`, `${layout}:nope`], 1, /no ref "nope" in layout .*: nothing removed; refs: /],
    [["tag", `${layout}:plain`, "bad name"], 2, /invalid ref name "bad name"/],
    [["tag", `${layout}:nope`, "new"], 1, /no ref "nope" in layout/],
    [["rm", layout], 2, /names no ref: write <layout>:<ref>/],
    [["gc", plain], 1, /not an OCI image layout/],
    [["ls", plain], 1, /not an OCI image layout .*read as a layout because directory .* exists; write docker:\/\//],
    [["ls", join(dir, "missing")], 2, /is neither a layout \(no directory .*missing exists\) nor an image reference/],
    [["tag", `${plain}:x`, "y"], 1, /not an OCI image layout/],
  ];
  const index = await readFile(join(layout, "index.json"));
  for (const [args, status, message] of cases) {
    const result = await runOciImage(args);
    const what = `oci-image ${args.join(" ")}: ${result.stderr}`;
    assert.equal(result.status, status, what);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, status === 2 ? 2 : 1, what);
    assert.match(lines[0]!, message, what);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    assert.equal(result.stdout, "", what);
    assert.deepEqual(await readFile(join(layout, "index.json")), index, `${what}: index.json unchanged`);
  }
  const json = await runOciImage(["rm", "--json", `${layout}:nope`]);
  assert.equal(json.status, 1);
  assert.deepEqual(JSON.parse(json.stdout).ok, false);
  assert.equal(JSON.parse(json.stdout).errors[0].code, "REF_UNKNOWN");
});
