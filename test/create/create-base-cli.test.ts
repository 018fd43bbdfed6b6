/**
 * `oci-image create --base` as a user runs it: flags over the base's config,
 * and bad input refused in one line with exit 1 or 2 before anything is
 * written (the target layout byte for byte as it was, the base's too).
 */
import assert from "node:assert/strict";
import { mkdir, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { MediaType } from "../../src/image/media-types.js";
import type { ImageConfig } from "../../src/image/types.js";
import { ImageLayout } from "../../src/layout/layout.js";
import { hasStackTrace, runOciImage } from "../helpers/cli.js";
import { writeTestImage, type TestImage } from "../helpers/image-builder.js";
import { tempDir } from "../helpers/temp.js";
import { snapshotLayout } from "./verify-image.js";

const NO_EPOCH = { SOURCE_DATE_EPOCH: undefined };

interface Setup {
  dir: string;
  base: string;
  baseImage: TestImage;
  app: string;
  target: string;
}

/** A base layout (tag `os`), an application directory, and a target layout that already holds an image. */
async function setup(t: TestContext): Promise<Setup> {
  const dir = await tempDir(t);
  const base = join(dir, "base");
  const baseImage = await writeTestImage(base, {
    layers: [
      [
        { name: "etc", type: "directory" },
        { name: "etc/motd", content: "hi\n" },
      ],
    ],
    tag: "os",
    config: {
      config: {
        Env: ["PATH=/usr/bin:/bin", "LANG=C"],
        Entrypoint: ["/entry.sh"],
        Cmd: ["serve"],
        Labels: { from: "base" },
        User: "daemon",
      },
    },
  });
  const app = join(dir, "app");
  await mkdir(join(app, "app"), { recursive: true });
  await writeFile(join(app, "app", "run"), "#!/bin/sh\n");
  const target = join(dir, "target");
  const first = await runOciImage(["create", app, `${target}:old`], { env: NO_EPOCH });
  assert.equal(first.status, 0, first.stderr);
  return { dir, base, baseImage, app, target };
}

test("create --base: -e and -l on top of the base's, --entrypoint clears the inherited Cmd", async (t) => {
  const { base, app, target } = await setup(t);
  const result = await runOciImage(
    ["create", "--base", `${base}:os`, app, `${target}:app`, "-e", "LANG=C.UTF-8", "-e", "APP=1", "-l", "app=x"],
    { env: NO_EPOCH },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /on base sha256:[0-9a-f]{64} \(1 layer\)/);
  assert.deepEqual((await configOf(target, "app")).config, {
    User: "daemon",
    Env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "APP=1"],
    Entrypoint: ["/entry.sh"],
    Cmd: ["serve"],
    Labels: { from: "base", app: "x" },
  });
  const entry = await runOciImage(["create", "--base", `${base}:os`, app, `${target}:e`, "--entrypoint", "/app/run"]);
  assert.equal(entry.status, 0, entry.stderr);
  const entryConfig = (await configOf(target, "e")).config!;
  assert.deepEqual([entryConfig.Entrypoint, entryConfig.Cmd], [["/app/run"], undefined]);
  const both = await runOciImage([
    "create",
    "--base",
    `${base}:os`,
    app,
    `${target}:both`,
    "--entrypoint",
    "/app/run",
    "--cmd",
    '["--port","80"]',
  ]);
  assert.equal(both.status, 0, both.stderr);
  const bothConfig = (await configOf(target, "both")).config!;
  assert.deepEqual([bothConfig.Entrypoint, bothConfig.Cmd], [["/app/run"], ["--port", "80"]]);
});

/** Runs create and checks: the exit status, one line on stderr matching `message`, both layouts unchanged. */
async function refused(
  s: Setup,
  args: string[],
  status: number,
  message: RegExp,
  options: { base?: string } = {},
): Promise<void> {
  const target = await snapshotLayout(s.target);
  const base = await snapshotLayout(options.base ?? s.base);
  const result = await runOciImage(["create", ...args], { env: NO_EPOCH });
  assert.equal(result.status, status, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trim().split("\n");
  // A usage error adds the line that points to --help.
  assert.equal(lines.length, status === 2 ? 2 : 1, result.stderr);
  assert.match(lines[0]!, message);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.deepEqual(await snapshotLayout(s.target), target, "the target layout is unchanged");
  assert.deepEqual(await snapshotLayout(options.base ?? s.base), base, "the base layout is unchanged");
}

/** The config of the image under `tag` in `layout`. */
async function configOf(layout: string, tag: string): Promise<ImageConfig> {
  const store = await ImageLayout.open(layout);
  const manifest = await store.readManifest(await store.resolveRef(tag));
  return store.readConfig(manifest.config);
}

const blobPath = (layout: string, digest: string) => join(layout, "blobs", "sha256", digest.slice("sha256:".length));

test("create --base: a base ref or layout that does not exist", async (t) => {
  const s = await setup(t);
  await refused(s, ["--base", `${s.base}:nope`, s.app, `${s.target}:app`], 1, /no ref "nope" in layout .*refs: os/);
  await refused(s, ["--base", join(s.dir, "missing"), s.app, `${s.target}:app`], 1, /not an OCI image layout/);
  await refused(s, ["--base", `${s.base}:os`, s.app, `${s.target}:app`, "--remove", "../x"], 2, /--remove must be/);
});

test("create --base: a base layer blob missing or corrupt is refused before anything is written", async (t) => {
  const s = await setup(t);
  const layer = s.baseImage.manifest.layers[0]!;
  const corrupt = blobPath(s.base, layer.digest);
  const { readFile } = await import("node:fs/promises");
  const bytes = await readFile(corrupt);
  bytes[bytes.length - 9]! ^= 0xff;
  await writeFile(corrupt, bytes);
  await refused(
    s,
    ["--base", `${s.base}:os`, s.app, `${s.target}:app`],
    1,
    /layer sha256:[0-9a-f]{64} of base .* is corrupt \(content digest is .*\); fetch the base again/,
  );
  await truncate(corrupt, 3);
  await refused(
    s,
    ["--base", `${s.base}:os`, s.app, `${s.target}:app`],
    1,
    /layer sha256:[0-9a-f]{64} of base .* is corrupt \(.*declares \d+\)/,
  );
  await unlink(corrupt);
  await refused(
    s,
    ["--base", `${s.base}:os`, s.app, `${s.target}:app`],
    1,
    /layer sha256:[0-9a-f]{64} of base .* is missing; fetch the base again/,
  );
});

test("create --base: an artifact is no base", async (t) => {
  const s = await setup(t);
  const artifact = join(s.dir, "artifact");
  const layout = (await writeTestImage(artifact, { layers: [] })).layout;
  const empty = await layout.putBlobBytes(Buffer.from("{}"));
  const file = await layout.putBlobBytes(Buffer.from("signature"));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: "application/vnd.example.signature",
    config: { mediaType: MediaType.ociEmpty, digest: empty.digest, size: empty.size },
    layers: [{ mediaType: "application/vnd.example.signature.v1", digest: file.digest, size: file.size }],
  };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
  await layout.addRef({ mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size }, "sig");
  await refused(s, ["--base", `${artifact}:sig`, s.app, `${s.target}:app`], 1, /is not a container image/, {
    base: artifact,
  });
});

test("create, with a base or not: a stray .wh. file in the directory is refused unless --whiteouts", async (t) => {
  const s = await setup(t);
  await writeFile(join(s.app, "app", ".wh.run"), "");
  await refused(s, ["--base", `${s.base}:os`, s.app, `${s.target}:app`], 1, /app\/\.wh\.run has a whiteout name/);
  await refused(s, [s.app, `${s.target}:app`], 1, /app\/\.wh\.run has a whiteout name/);
  const allowed = await runOciImage(["create", "--base", `${s.base}:os`, s.app, `${s.target}:app`, "--whiteouts"]);
  assert.equal(allowed.status, 0, allowed.stderr);
});

test("create --base: a base for another platform is refused; a bad -p is a usage error", async (t) => {
  const s = await setup(t);
  await refused(s, ["--base", `${s.base}:os`, s.app, `${s.target}:app`, "-p", "linux/s390x"], 1, /is for linux\/amd64/);
  await refused(s, ["--base", `${s.base}:os`, s.app, `${s.target}:app`, "-p", "linux"], 2, /invalid platform/);
});

test("create --base: a base manifest that breaks the image-spec; --remove without a base", async (t) => {
  const s = await setup(t);
  const layout = await ImageLayout.open(s.base);
  const broken = { ...s.baseImage.manifest, layers: [{ ...s.baseImage.manifest.layers[0]!, size: -1 }] };
  const stored = await layout.putBlobBytes(Buffer.from(JSON.stringify(broken)));
  // Written into index.json as a hostile layout would hold it: addRef refuses an entry whose blobs are not all there.
  const entry = { mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size };
  const annotations = { "org.opencontainers.image.ref.name": "broken" };
  await layout.updateIndex((index) => ({ ...index, manifests: [...index.manifests, { ...entry, annotations }] }));
  await refused(
    s,
    ["--base", `${s.base}:broken`, s.app, `${s.target}:app`],
    1,
    /is not a valid image manifest at \/layers\/0\/size/,
  );
  await refused(s, [s.app, `${s.target}:app`, "--remove", "/etc/motd"], 2, /--remove needs a base image/);
});
