/**
 * fetch at a real terminal: Ctrl-C early, in the middle of a transfer and near
 * its end ends it within half a second with exit 130 and the layout as it
 * was; the progress shows the whole image's bytes, percent and the blobs in
 * flight, and no line is wider than the terminal. The registry is real; a
 * fault proxy in front holds blobs still so that each moment lasts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { writeTestImage } from "../helpers/image-builder.js";
import { CTRL_C, CTRL_Z, cursorShownAtEnd, runOnTerminal, type PtyStep } from "../helpers/pty.js";
import { pushImage, startRegistry, type StartedRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { inCI, toolPath } from "../helpers/tools.js";
import {
  assertFitsWidth,
  assertInterrupted,
  assertLayoutUnchanged,
  hasTempFile,
  layoutState,
  signalWhen,
} from "./terminal-fixtures.js";

const LAYER_BYTES = 4_000_000;
let registry: StartedRegistry | undefined;
let proxy: FaultProxy;
let layers: { digest: string; size: number }[] = [];
let work: string;

before(async () => {
  if (!toolPath("docker-registry") || !toolPath("skopeo") || !toolPath("python3")) {
    if (inCI()) throw new Error("docker-registry, skopeo and python3 are needed in CI");
    process.stderr.write("\n*** SKIPPING fetch terminal tests: docker-registry, skopeo or python3 missing ***\n");
    return;
  }
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  work = await mkdtemp(join(tmpdir(), "oci-image-terminal-fetch-"));
  const source = join(work, "source");
  const image = await writeTestImage(source, {
    layers: [0, 1, 2, 3].map((i) => [{ name: `blob-${i}`, content: randomBytes(LAYER_BYTES) }]),
    tag: "v1",
  });
  layers = image.manifest.layers;
  registry = await startRegistry();
  await pushImage(`oci:${source}:v1`, registry, "test/big:v1", { format: "oci" });
  proxy = await startFaultProxy(registry.url);
});

after(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const anyBlob = /\/blobs\/sha256:/;
const blobPath = (digest: string) => new RegExp(`/blobs/${digest}$`);

/** Moments of a transfer, the blobs held still for each, and the terminal's width. */
const moments: { name: string; cols: number; rules: () => FaultRule[]; steps: PtyStep[] }[] = [
  {
    name: "early",
    cols: 40,
    rules: () => [{ path: anyBlob, fault: { kind: "stall" } }],
    steps: [{ wait_output: "fetching " }],
  },
  {
    name: "mid-transfer",
    cols: 80,
    rules: () => [{ path: anyBlob, fault: { kind: "stall", afterBytes: 1_500_000 } }],
    steps: [{ wait_output: "fetching [1-9][0-9.]* MB / " }],
  },
  {
    name: "late",
    cols: 120,
    rules: () => [{ path: blobPath(layers.at(-1)!.digest), fault: { kind: "stall", afterBytes: LAYER_BYTES - 1000 } }],
    steps: [{ wait_output: "4/5 blobs" }],
  },
];

for (const moment of moments) {
  test(`fetch: Ctrl-C ${moment.name} ends it with 130, the layout as it was, no line wider than ${moment.cols}`, async (t) => {
    if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
    const { layout, before } = await seededLayout(t);
    proxy.reset(moment.rules());
    const run = await runOnTerminal(["fetch", `${proxy.host}/test/big:v1`, `${layout}:second`], {
      cols: moment.cols,
      env: await noCredentials(t),
      steps: [...moment.steps, { send: CTRL_C }],
    });
    assertInterrupted(run, `fetch (${moment.name})`);
    await assertLayoutUnchanged(layout, before, `fetch (${moment.name})`);
    assertFitsWidth(run, moment.cols);
    // The whole image: bytes done of its total, percent, blobs done of all.
    assert.match(run.output, /fetching [\d.]+ k?M?B \/ 16\.\d MB {2}\d+%/);
  });
}

test("fetch: the blobs in flight are listed under the total, each with its bytes", async (t) => {
  if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
  proxy.reset([{ path: anyBlob, fault: { kind: "stall", afterBytes: 1_500_000 } }]);
  const run = await runOnTerminal(["fetch", "-j", "4", `${proxy.host}/test/big:v1`, join(await tempDir(t), "x")], {
    cols: 100,
    env: await noCredentials(t),
    steps: [{ wait_output: "sha256:[0-9a-f]{12} +1\\.[0-9] MB / 4\\.0 MB +[23][0-9]%" }, { send: CTRL_C }],
  });
  assertInterrupted(run, "fetch with blobs in flight");
  assert.match(run.output, /and 1 more/, "four blobs in flight: three shown, the fourth counted");
});

test("fetch: SIGTERM mid-transfer exits 143, no temporary file left, the layout as it was", async (t) => {
  if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
  const { layout, before } = await seededLayout(t);
  proxy.reset([{ path: anyBlob, fault: { kind: "stall", afterBytes: 1_500_000 } }]);
  const env = await noCredentials(t);
  const run = await signalWhen(
    ["fetch", `${proxy.host}/test/big:v1`, `${layout}:second`],
    () => hasTempFile(layout),
    "SIGTERM",
    env,
  );
  assert.equal(run.status, 143, run.stderr);
  assert.ok(run.afterMs <= 500, `ended ${run.afterMs} ms after SIGTERM`);
  await assertLayoutUnchanged(layout, before, "fetch after SIGTERM");
});

test("fetch in a pipe: one plain line per blob fetched, nothing drawn", async (t) => {
  if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
  proxy.reset([]);
  const result = await runOciImage(["fetch", `${proxy.host}/test/big:v1`, join(await tempDir(t), "images")], {
    env: { CI: "", ...(await noCredentials(t)) },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(!result.stderr.includes("\u001b"), "escape sequences in a pipe");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 5, result.stderr);
  for (const line of lines) assert.match(line, /^sha256:[0-9a-f]{12} fetched \([\d.]+ k?M?B\)$/);
  assert.match(result.stdout, /; 5 blobs fetched, 0 already present, 16\.\d MB\)/);
});

test("fetch: Ctrl-C while the manifest is still awaited (nothing drawn yet) ends it with 130", async (t) => {
  if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
  proxy.reset([{ path: /\/manifests\//, fault: { kind: "stall" } }]);
  const parent = await tempDir(t);
  const run = await runOnTerminal(["fetch", `${proxy.host}/test/big:v1`, join(parent, "images")], {
    env: await noCredentials(t),
    steps: [{ sleep_ms: 1500 }, { send: CTRL_C }],
  });
  assert.ok(
    proxy.requests.some((request) => /\/manifests\//.test(request.path)),
    "the manifest was not asked for yet",
  );
  assertInterrupted(run, "fetch awaiting the manifest");
  const { readdir } = await import("node:fs/promises");
  assert.deepEqual(await readdir(parent), [], "a layout was left for an image never fetched");
});

test("fetch: Ctrl-Z suspends a transfer, fg resumes it, and Ctrl-C then still ends it", async (t) => {
  if (!registry) return t.skip("docker-registry, skopeo or python3 missing");
  proxy.reset([{ path: anyBlob, fault: { kind: "stall", afterBytes: 1_500_000 } }]);
  const run = await runOnTerminal(["fetch", `${proxy.host}/test/big:v1`, join(await tempDir(t), "images")], {
    env: await noCredentials(t),
    steps: [
      { wait_output: "fetching [1-9]" },
      { send: CTRL_Z },
      { wait_stopped: true },
      { resume: true },
      { sleep_ms: 300 },
      { send: CTRL_C },
    ],
  });
  assert.equal(run.stops.length, 1, "Ctrl-Z did not stop fetch");
  assert.ok(cursorShownAtEnd(run.output.slice(0, run.stopOffsets[0])), "the cursor is hidden while suspended");
  assertInterrupted(run, "fetch after Ctrl-Z and fg");
});

/** No credentials of the machine's user reach the proxy: an empty Docker config, no auth file. */
async function noCredentials(t: TestContext): Promise<Record<string, string>> {
  return { DOCKER_CONFIG: await tempDir(t, "oci-image-docker-config-"), REGISTRY_AUTH_FILE: "" };
}

/** A layout holding one small image (`first`), and its state, for checking it stays as it was. */
async function seededLayout(t: TestContext) {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const dir = await tempDir(t);
  const layout = join(dir, "images");
  await mkdir(join(dir, "tree"));
  await writeFile(join(dir, "tree", "hello"), "hello\n");
  assert.equal((await runOciImage(["create", join(dir, "tree"), `${layout}:first`])).status, 0);
  return { layout, before: await layoutState(layout) };
}
