/**
 * What create writes, read by the reference tools: oci-image-tool validates it,
 * umoci unpacks the very tree it came from, skopeo reads the config we asked for.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { isRoot, requireTool } from "../helpers/tools.js";
import { describeTree, makeFixtureTree } from "./fixture-tree.js";
import { checkImage } from "./verify-image.js";

async function createFixtureImage(
  t: Parameters<typeof tempDir>[0],
  args: string[] = [],
  env: NodeJS.ProcessEnv = { SOURCE_DATE_EPOCH: undefined },
) {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(root);
  const info = await makeFixtureTree(root);
  const layout = join(dir, "layout");
  const result = await runOciImage(["create", "-q", root, `${layout}:fixture`, ...args], { env });
  assert.equal(result.status, 0, result.stderr);
  return { dir, root, layout, info, digest: result.stdout.trim() };
}

test("oci-image-tool validates the image", async (t) => {
  const tool = requireTool(t, "oci-image-tool");
  if (!tool) return;
  for (const compression of ["gzip", "none"]) {
    const { layout } = await createFixtureImage(t, ["--compression", compression, "--expose", "80", "-e", "A=b"]);
    const result = await runProgram(tool, ["validate", "--type", "image", "--ref", "name=fixture", layout]);
    assert.equal(result.status, 0, `${compression}: ${result.stdout}${result.stderr}`);
    assert.match(result.stdout + result.stderr, /Validation succeeded/);
  }
});

test("umoci unpacks the same tree: paths, types, modes, owners, sizes, times, link targets, hardlinks, content", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  if (!isRoot()) {
    t.skip("umoci needs root to restore owners and device nodes");
    return;
  }
  const { dir, root, layout } = await createFixtureImage(t);
  const bundle = join(dir, "bundle");
  const result = await runProgram(umoci, ["unpack", "--image", `${layout}:fixture`, bundle]);
  assert.equal(result.status, 0, result.stderr);
  const expected = await describeTree(root, { mtimes: true });
  const actual = await describeTree(join(bundle, "rootfs"), { mtimes: true });
  assert.deepEqual(actual, expected);
  assert.ok(Object.keys(expected).length >= 30, "the fixture tree is not trivially small");
});

test("umoci unpacks a reproducible build with --owner 0:0 and clamped times", async (t) => {
  const umoci = requireTool(t, "umoci");
  if (!umoci) return;
  if (!isRoot()) {
    t.skip("umoci needs root to restore owners and device nodes");
    return;
  }
  const clamp = 1_800_000_000;
  const { dir, root, layout } = await createFixtureImage(t, ["--owner", "0:0"], { SOURCE_DATE_EPOCH: String(clamp) });
  const bundle = join(dir, "bundle");
  const result = await runProgram(umoci, ["unpack", "--image", `${layout}:fixture`, bundle]);
  assert.equal(result.status, 0, result.stderr);
  const expected = await describeTree(root, { mtimes: true });
  for (const entry of Object.values(expected)) {
    entry.uid = 0;
    entry.gid = 0;
    if (entry.mtime !== undefined) entry.mtime = Math.min(entry.mtime, clamp);
  }
  assert.deepEqual(await describeTree(join(bundle, "rootfs"), { mtimes: true }), expected);
});

/** Every config flag, with the values skopeo must report back. */
const CONFIG_FLAGS = [
  "--platform",
  "linux/arm64",
  "--entrypoint",
  '["/bin/app","--flag"]',
  "--cmd",
  "serve",
  "-e",
  "PATH=/usr/bin:/bin",
  "-e",
  "MODE=prod",
  "-w",
  "/srv",
  "-u",
  "1000:1000",
  "-l",
  "org.example.team=core",
  "--expose",
  "8080",
  "--expose",
  "53/udp",
  "--volume",
  "/data",
  "--stop-signal",
  "SIGQUIT",
  "--author",
  "The Builders",
  "--history",
  "made from a fixture tree",
  "--annotation",
  "org.opencontainers.image.title=fixture",
  "--created",
  "2024-03-04T05:06:07Z",
];

test("skopeo reads the config we asked for", async (t) => {
  const skopeo = requireTool(t, "skopeo");
  if (!skopeo) return;
  const { layout, digest } = await createFixtureImage(t, CONFIG_FLAGS);
  const image = await checkImage(layout, "fixture");
  const config = await runProgram(skopeo, ["inspect", "--config", `oci:${layout}:fixture`]);
  assert.equal(config.status, 0, config.stderr);
  const parsed = JSON.parse(config.stdout) as Record<string, unknown>;
  assert.deepEqual(parsed, {
    created: "2024-03-04T05:06:07Z",
    author: "The Builders",
    architecture: "arm64",
    os: "linux",
    config: {
      User: "1000:1000",
      ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
      Env: ["PATH=/usr/bin:/bin", "MODE=prod"],
      Entrypoint: ["/bin/app", "--flag"],
      Cmd: ["serve"],
      Volumes: { "/data": {} },
      WorkingDir: "/srv",
      Labels: { "org.example.team": "core" },
      StopSignal: "SIGQUIT",
    },
    rootfs: { type: "layers", diff_ids: image.config.rootfs.diff_ids },
    history: [{ created: "2024-03-04T05:06:07Z", created_by: "made from a fixture tree", author: "The Builders" }],
  });
  const raw = await runProgram(skopeo, ["inspect", "--raw", `oci:${layout}:fixture`]);
  assert.equal(raw.status, 0, raw.stderr);
  const manifest = JSON.parse(raw.stdout) as { annotations: Record<string, string> };
  assert.deepEqual(manifest.annotations, {
    "org.opencontainers.image.created": "2024-03-04T05:06:07Z",
    "org.opencontainers.image.title": "fixture",
  });
  assert.equal(image.manifestDigest, digest);
});

test("oci-image validate accepts the image, for every compression", async (t) => {
  for (const compression of ["gzip", "zstd", "none"]) {
    const { layout } = await createFixtureImage(t, ["--compression", compression, "--cmd", "/bin/true"]);
    const result = await runOciImage(["validate", "--json", `${layout}:fixture`]);
    assert.equal(result.status, 0, `${compression}: ${result.stdout}${result.stderr}`);
    const report = JSON.parse(result.stdout) as { valid: boolean; errors: unknown[]; warnings: unknown[] };
    assert.equal(report.valid, true);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
  }
});
