/** The one rule telling a layout argument from a registry reference, and gc's refusal to guess. */
import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { NotFoundError } from "../../src/errors.js";
import { classifyTarget, explainReading } from "../../src/transfer/layout-or-reference.js";
import { runOciImage } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { writeMixedLayoutApart } from "./layouts.js";

test("a directory that exists is a layout, anything else a reference; oci: and docker:// force one", async (t) => {
  const cwd = await tempDir(t);
  await mkdir(join(cwd, "images"));
  await mkdir(join(cwd, "localhost:5000"), { recursive: true });
  assert.deepEqual(await classifyTarget("images", cwd), { kind: "layout", path: "images", forced: false });
  assert.deepEqual(await classifyTarget("images:v1", cwd), {
    kind: "layout",
    path: "images",
    tag: "v1",
    forced: false,
  });
  const remote = await classifyTarget("localhost:5000/images", cwd);
  assert.equal(remote.kind, "registry");
  const forcedRemote = await classifyTarget("docker://images", cwd);
  assert.equal(forcedRemote.kind, "registry");
  assert.equal(forcedRemote.kind === "registry" && forcedRemote.reference.repository, "library/images");
  assert.deepEqual(await classifyTarget("oci:missing:v2", cwd), {
    kind: "layout",
    path: "missing",
    tag: "v2",
    forced: true,
  });
  const guessed = await classifyTarget("imgaes", cwd);
  assert.equal(guessed.kind, "registry");
  await assert.rejects(classifyTarget("Not A Reference", cwd), {
    code: "USAGE",
    message: /neither a layout \(no directory Not A Reference exists\) nor an image reference/,
  });
  const explained = explainReading(new NotFoundError("LAYOUT_MISSING", "x"), "imgaes", guessed) as Error;
  assert.match(explained.message, /read as a registry image because no directory imgaes exists; write oci:imgaes/);
  const forced = explainReading(new NotFoundError("LAYOUT_MISSING", "y"), "docker://images", forcedRemote) as Error;
  assert.equal(forced.message, "y", "a forced reading is not second-guessed");
});

test("gc refuses a layout whose reachable document does not parse, and removes nothing", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  const rm = await runOciImage(["rm", `${layout}:plain`]);
  assert.equal(rm.status, 0, rm.stderr);
  const garbage = Buffer.from("not json");
  const { createHash } = await import("node:crypto");
  const hex = createHash("sha256").update(garbage).digest("hex");
  await writeFile(join(layout, "blobs", "sha256", hex), garbage);
  const index = JSON.parse(await (await import("node:fs/promises")).readFile(join(layout, "index.json"), "utf8"));
  index.manifests.push({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: `sha256:${hex}`,
    size: garbage.length,
  });
  await writeFile(join(layout, "index.json"), JSON.stringify(index));
  const before = await readdir(join(layout, "blobs", "sha256"));
  const gc = await runOciImage(["gc", layout]);
  assert.equal(gc.status, 1, gc.stderr);
  assert.equal(gc.stderr.trimEnd().split("\n").length, 1, gc.stderr);
  assert.match(gc.stderr, new RegExp(hex));
  assert.deepEqual(await readdir(join(layout, "blobs", "sha256")), before);
});
