/**
 * The WAN benchmark: an image of one 300 MB layer (random bytes: nothing to
 * gain from compression) and three small ones, in the bench registry behind
 * the WAN-like link of wan-link.ts. Its floor is the link's: the bytes at the
 * link's total rate, plus a few round trips (manifest, config, layers).
 */
import { randomBytes, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildTar } from "../test/helpers/image-builder.js";
import { pushRawImage, type RunningRegistry } from "../test/helpers/registry.js";
import { fetchCandidates } from "./fetch-candidates.js";
import { MEMORY_TARGET, type Operation } from "./measure.js";
import { startWanLink, WAN_LINK, type RunningLink } from "./wan-link.js";

/** Bump when the recipe changes, so the image is pushed again. */
const WAN_RECIPE = "1";
const BIG_LAYER_BYTES = 300_000_000;
const SMALL_LAYER_BYTES = [200_000, 1_000_000, 3_000_000];
/** Round trips no fetch can avoid: the manifest, the config, the layers. */
const FLOOR_ROUND_TRIPS = 3;

export interface WanSetup {
  link: RunningLink;
  /** `LINK_HOST/bench/wan:oci`. */
  reference: string;
  /** Manifest, config and layers. */
  bytes: number;
  floorSeconds: number;
}

const LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";

/** Pushes the image the first time (a marker in the registry's data says it is there), then starts the link. */
export async function prepareWan(registry: RunningRegistry, log: (line: string) => void): Promise<WanSetup> {
  const marker = join(registry.dataDir, `.pushed-wan-${WAN_RECIPE}`);
  if (!existsSync(marker)) {
    log("pushing the WAN image (one 300 MB random layer, three small ones) to the registry");
    await writeFile(marker, JSON.stringify({ bytes: await pushWanImage(registry) }));
  }
  const { bytes } = JSON.parse(await readFile(marker, "utf8")) as { bytes: number };
  const link = await startWanLink(registry.url);
  const floorSeconds = bytes / WAN_LINK.totalBytesPerSecond + (FLOOR_ROUND_TRIPS * WAN_LINK.roundTripMs) / 1000;
  return { link, reference: `${link.host}/bench/wan:oci`, bytes, floorSeconds };
}

/** Uncompressed tar layers pushed through the API as they are; returns the bytes of every blob and the manifest. */
async function pushWanImage(registry: RunningRegistry): Promise<number> {
  const layers: Buffer[] = [];
  for (const [index, size] of [BIG_LAYER_BYTES, ...SMALL_LAYER_BYTES].entries())
    layers.push(await buildTar([{ name: `data/layer-${index}.bin`, content: randomBytes(size) }]));
  const digest = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: "2025-05-20T00:00:00Z",
      config: { Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: layers.map(digest) },
      history: layers.map(() => ({ created: "2025-05-20T00:00:00Z", created_by: "random bytes" })),
    }),
  );
  await pushRawImage(registry, "bench/wan", "oci", {
    config,
    layers: layers.map((bytes) => ({ bytes, mediaType: LAYER_TAR })),
  });
  // The manifest is small (about 1 KB); counted as such.
  return config.length + layers.reduce((sum, layer) => sum + layer.length, 0) + 1024;
}

export function wanOperation(
  wan: WanSetup,
  ociImage: string[],
  out: (name: string) => string,
  empty: (path: string) => () => Promise<void>,
): Operation {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  const shape =
    `${WAN_LINK.roundTripMs} ms per request, ${mb(WAN_LINK.perConnectionBytesPerSecond)}/s per connection, ` +
    `${mb(WAN_LINK.totalBytesPerSecond)}/s in total`;
  return {
    id: "fetch-wan",
    group: "wan",
    title: `fetch ${mb(wan.bytes)} (one 300 MB layer) over a WAN-like link (${shape})`,
    candidates: [
      ...fetchCandidates({
        ociImage,
        reference: wan.reference,
        ours: out("wan-ours"),
        theirs: out("wan-skopeo"),
        tag: "bench",
        prepare: empty,
      }),
      {
        name: `link floor (bytes ÷ ${mb(WAN_LINK.totalBytesPerSecond)}/s + ${FLOOR_ROUND_TRIPS} round trips)`,
        role: "floor",
        argv: [],
        fixedSeconds: wan.floorSeconds,
      },
    ],
    targets: [{ against: "skopeo copy", atMost: 0.4 }, { against: "link floor", atMost: 1.3 }, MEMORY_TARGET],
  };
}
