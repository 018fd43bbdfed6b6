/**
 * gc beside concurrent writers: gc runs in a loop while fetch and create write
 * into the same layout, reusing blobs that the previous round's refs (removed
 * meanwhile) left unreferenced. Every ref a writer reported must be there and
 * complete, and the layout must validate.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage, type CliResult } from "../helpers/cli.js";
import { pushImage, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";

const WRITERS = 3;
const ROUNDS = 3;

async function makeRootfs(dir: string, i: number): Promise<string> {
  const root = join(dir, `rootfs-${i}`);
  await mkdir(join(root, "data"), { recursive: true });
  // Random bytes do not compress: each layer takes a while to write.
  await writeFile(join(root, "data", "blob"), randomBytes(2_000_000 + i * 100_000));
  return root;
}

/** Images to fetch: each rootfs built and pushed to the registry. */
async function publishImages(dir: string, roots: string[], registry: RunningRegistry): Promise<string[]> {
  const images: string[] = [];
  for (const [i, root] of roots.entries()) {
    const source = join(dir, `source-${i}`);
    const created = await runOciImage(["create", "-q", root, `${source}:x`]);
    assert.equal(created.status, 0, created.stderr);
    await pushImage(`oci:${source}:x`, registry, `race/image-${i}:1`);
    images.push(`${registry.host}/race/image-${i}:1`);
  }
  return images;
}

/** `gc` again and again until `stop()`; resolves with how many runs succeeded. */
function gcInALoop(layout: string): { stop: () => Promise<number> } {
  let writing = true;
  let runs = 0;
  const loop = (async () => {
    while (writing) {
      const gc = await runOciImage(["gc", "-q", layout]);
      if (gc.status === 0) runs++;
      else assert.match(gc.stderr, /not an OCI image layout/, gc.stderr); // Before the first writer made it.
    }
  })();
  return {
    stop: async () => {
      writing = false;
      await loop;
      return runs;
    },
  };
}

/** One round: every writer fetches and creates into the layout while the last round's refs are removed. */
async function writeRound(
  layout: string,
  round: number,
  sources: { images: string[]; roots: string[] },
  reported: Map<string, string>,
): Promise<void> {
  const jobs: Promise<[string, CliResult]>[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const fetchRef = `fetched-${round}-${i}`;
    const createRef = `created-${round}-${i}`;
    jobs.push(runOciImage(["fetch", "-q", sources.images[i]!, `${layout}:${fetchRef}`]).then((r) => [fetchRef, r]));
    jobs.push(runOciImage(["create", "-q", sources.roots[i]!, `${layout}:${createRef}`]).then((r) => [createRef, r]));
  }
  if (round > 0) {
    // The previous round's blobs become unreferenced while this round reuses them.
    const previous = [...reported.keys()].filter((ref) => ref.includes(`-${round - 1}-`));
    const rm = await runOciImage(["rm", ...previous.map((ref) => `${layout}:${ref}`)]);
    assert.equal(rm.status, 0, rm.stderr);
    for (const ref of previous) reported.delete(ref);
  }
  for (const [ref, result] of await Promise.all(jobs)) {
    assert.equal(result.status, 0, `${ref}: ${result.stderr}`);
    const digest = /sha256:[0-9a-f]{64}/.exec(result.stdout)?.[0];
    assert.ok(digest, `${ref} reported ${result.stdout}`);
    reported.set(ref, digest);
  }
}

test("gc in a loop beside fetch and create writing into one layout loses nothing", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const dir = await tempDir(t);
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const roots = await Promise.all(Array.from({ length: WRITERS }, (_, i) => makeRootfs(dir, i)));
  const images = await publishImages(dir, roots, registry);
  const layout = join(dir, "shared");
  const gc = gcInALoop(layout);
  const reported = new Map<string, string>();
  let gcRuns: number;
  try {
    for (let round = 0; round < ROUNDS; round++) await writeRound(layout, round, { images, roots }, reported);
  } finally {
    gcRuns = await gc.stop();
  }
  assert.ok(gcRuns >= 2, `gc ran ${gcRuns} times during the writes`);
  const listed = await runOciImage(["ls", "--json", layout]);
  const rows = JSON.parse(listed.stdout) as { ref: string; digest: string }[];
  assert.deepEqual(new Map(rows.map((row) => [row.ref, row.digest])), reported);
  const validate = await runOciImage(["validate", layout]);
  assert.equal(validate.status, 0, validate.stdout);
  assert.match(validate.stdout, /0 errors/);
  const last = await runOciImage(["gc", "--json", layout]);
  assert.equal(JSON.parse(last.stdout).kept, 0, "with no writer left, nothing is kept back");
  assert.equal((await runOciImage(["validate", layout])).status, 0);
});
