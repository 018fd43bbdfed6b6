/** `inspect` of layouts and registry images: bytes equal to the blobs and to skopeo's; no layer read remotely. */
import assert from "node:assert/strict";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { pushImage, startRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";
import { readBlobFile, writeMixedLayoutApart } from "./layouts.js";

async function bytesOf(args: string[]): Promise<Buffer> {
  const { spawnSync } = await import("node:child_process");
  const { BIN } = await import("../helpers/cli.js");
  const result = spawnSync(process.execPath, [BIN, ...args]);
  assert.equal(result.status, 0, result.stderr.toString());
  return result.stdout;
}

async function skopeoBytes(args: string[]): Promise<Buffer> {
  const { spawnSync } = await import("node:child_process");
  const result = spawnSync("skopeo", args);
  assert.equal(result.status, 0, result.stderr.toString());
  return result.stdout;
}

async function digestOfRef(layout: string, ref: string): Promise<string> {
  const listed = JSON.parse((await runOciImage(["ls", "--json", layout])).stdout) as { ref: string; digest: string }[];
  return listed.find((row) => row.ref === ref)!.digest;
}

test("inspect of a layout: --raw and --config are the blobs' bytes; -p picks from an index; the summary", async (t) => {
  const layout = join(await tempDir(t), "layout");
  await writeMixedLayoutApart(layout);
  const plain = await digestOfRef(layout, "plain");
  const manifest = await readBlobFile(layout, plain);
  assert.deepEqual(await bytesOf(["inspect", "--raw", `${layout}:plain`]), manifest);
  const config = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  assert.deepEqual(
    await bytesOf(["inspect", "--config", `${layout}:plain`]),
    await readBlobFile(layout, config.config.digest),
  );
  const multi = await digestOfRef(layout, "multi");
  const index = await readBlobFile(layout, multi);
  assert.deepEqual(await bytesOf(["inspect", "--raw", `${layout}:multi`]), index);
  const arm = (JSON.parse(index.toString()) as { manifests: { digest: string }[] }).manifests[1]!.digest;
  assert.deepEqual(
    await bytesOf(["inspect", "--raw", "-p", "linux/arm64/v8", `${layout}:multi`]),
    await readBlobFile(layout, arm),
  );
  const noConfig = await runOciImage(["inspect", "--config", `${layout}:multi`]);
  assert.equal(noConfig.status, 2);
  assert.match(noConfig.stderr, /is an index: it has no config; pick an image with -p/);

  const summary = JSON.parse((await runOciImage(["inspect", "--json", `${layout}:plain`])).stdout);
  assert.equal(summary.digest, plain);
  assert.equal(summary.platform, "linux/amd64");
  assert.equal(summary.created, "2024-03-01T10:00:00Z");
  assert.deepEqual(
    summary.layers.map((layer: { digest: string }) => layer.digest),
    config.layers.map((l) => l.digest),
  );
  assert.deepEqual(summary.config.Cmd, ["/bin/sh"]);
  const human = (await runOciImage(["inspect", `${layout}:multi`])).stdout;
  assert.match(human, /^Platforms +linux\/amd64 +sha256:[0-9a-f]{64}\n +linux\/arm64\/v8 +sha256:/m);
  const sbom = (await runOciImage(["inspect", `${layout}:sbom`])).stdout;
  assert.match(sbom, /^Artifact type +application\/spdx\+json$/m);
  assert.match(sbom, new RegExp(`^Subject +${plain}$`, "m"));
});

async function registryWithImages(t: TestContext) {
  const dir = await tempDir(t);
  const layout = join(dir, "mixed");
  await writeMixedLayoutApart(layout);
  const registry = await startRegistry();
  t.after(() => registry.stop());
  await pushImage(`oci:${layout}:multi`, registry, "multi:1", { all: true, format: "oci" });
  await pushImage(`oci:${layout}:plain`, registry, "plain:docker", { format: "v2s2" });
  return { layout, registry };
}

test("inspect --raw and --config equal skopeo inspect's, for a layout and a registry image", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const { layout, registry } = await registryWithImages(t);
  const tls = "--tls-verify=false";
  for (const [ours, theirs] of [
    [`${layout}:plain`, `oci:${layout}:plain`],
    [`${registry.host}/plain:docker`, `docker://${registry.host}/plain:docker`],
    [`${registry.host}/multi:1`, `docker://${registry.host}/multi:1`],
  ]) {
    const options = theirs.startsWith("docker:") ? [tls] : [];
    assert.deepEqual(
      await bytesOf(["inspect", "--raw", ours!]),
      await skopeoBytes(["inspect", ...options, "--raw", theirs!]),
    );
    if (ours!.includes("multi")) continue;
    assert.deepEqual(
      await bytesOf(["inspect", "--config", ours!]),
      await skopeoBytes(["inspect", ...options, "--config", "--raw", theirs!]),
    );
  }
  const arm = ["--override-os", "linux", "--override-arch", "arm64", "--override-variant", "v8"];
  assert.deepEqual(
    await bytesOf(["inspect", "--config", "-p", "linux/arm64/v8", `${registry.host}/multi:1`]),
    await skopeoBytes([...arm, "inspect", tls, "--config", "--raw", `docker://${registry.host}/multi:1`]),
  );
});

test("remote inspect reads no layer: it works with every layer gone from the registry", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const { layout, registry } = await registryWithImages(t);
  const manifest = JSON.parse((await readBlobFile(layout, await digestOfRef(layout, "plain"))).toString()) as {
    layers: { digest: string }[];
  };
  const blobs = join(registry.dataDir, "docker", "registry", "v2", "blobs", "sha256");
  for (const layer of manifest.layers) {
    const hex = layer.digest.slice("sha256:".length);
    await rm(join(blobs, hex.slice(0, 2), hex), { recursive: true });
  }
  assert.ok((await readdir(blobs)).length > 0);
  const result = await runOciImage(["inspect", "--json", `${registry.host}/plain:docker`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).layers.length, manifest.layers.length);
  const fetched = await runOciImage(["fetch", `${registry.host}/plain:docker`, join(layout, "..", "fetched")]);
  assert.equal(fetched.status, 1, "the layers really are gone");
});

test("ls of a registry repository: every tag across pages, as skopeo list-tags; a missing one fails", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const { pushRawImage } = await import("../helpers/registry.js");
  await pushRawImage(registry, "many/tags", "t0", { config: Buffer.from("{}"), layers: [] });
  const got = await fetch(`${registry.url}/v2/many/tags/manifests/t0`, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const manifest = Buffer.from(await got.arrayBuffer());
  for (let i = 1; i < 150; i++) {
    const put = await fetch(`${registry.url}/v2/many/tags/manifests/t${i}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: manifest,
    });
    assert.equal(put.status, 201);
  }
  const skopeo = JSON.parse(
    (await skopeoBytes(["list-tags", "--tls-verify=false", `docker://${registry.host}/many/tags`])).toString(),
  ) as { Tags: string[] };
  assert.equal(skopeo.Tags.length, 150);
  const listed = await runOciImage(["ls", `${registry.host}/many/tags`]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split("\n").sort(), [...skopeo.Tags].sort());
  const json = await runOciImage(["ls", "--json", `docker://${registry.host}/many/tags`]);
  assert.deepEqual(JSON.parse(json.stdout), listed.stdout.trim().split("\n"));
  const missing = await runOciImage(["ls", `${registry.host}/no/such-repo`]);
  assert.equal(missing.status, 1, missing.stderr);
  assert.equal(missing.stderr.trimEnd().split("\n").length, 1, missing.stderr);
  assert.match(missing.stderr, /no\/such-repo.*read as a registry image because no directory/);
});
