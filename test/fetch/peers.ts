/** Checks a fetched layout with the peer tools and with `oci-image validate`. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { runOciImage, runProgram } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";

export interface PeerCheckOptions {
  /** The ref names an index (--platform all): umoci and skopeo need an image. */
  index?: boolean;
}

export async function checkWithPeers(
  t: TestContext,
  layout: string,
  tag: string,
  options: PeerCheckOptions = {},
): Promise<void> {
  const tool = requireTool(t, "oci-image-tool");
  if (tool) {
    const image = await runProgram(tool, ["validate", "--type", "image", "--ref", `name=${tag}`, layout]);
    assert.equal(image.status, 0, `oci-image-tool validate --type image: ${image.stdout}${image.stderr}`);
  }
  const ours = await runOciImage(["validate", `${layout}:${tag}`]);
  assert.equal(ours.status, 0, `oci-image validate: ${ours.stdout}${ours.stderr}`);
  if (options.index) return;
  const skopeo = requireTool(t, "skopeo");
  if (skopeo) {
    const inspect = await runProgram(skopeo, ["inspect", `oci:${layout}:${tag}`]);
    assert.equal(inspect.status, 0, `skopeo inspect: ${inspect.stderr}`);
    const parsed = JSON.parse(inspect.stdout) as { Layers?: string[] };
    assert.ok(Array.isArray(parsed.Layers) && parsed.Layers.length > 0, "skopeo sees the layers");
  }
  const umoci = requireTool(t, "umoci");
  if (umoci) {
    const bundle = join(await tempDir(t, "oci-image-umoci-"), "bundle");
    const unpack = await runProgram(umoci, ["unpack", "--rootless", "--image", `${layout}:${tag}`, bundle]);
    assert.equal(unpack.status, 0, `umoci unpack: ${unpack.stderr}`);
  }
}
