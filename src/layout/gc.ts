/**
 * Garbage collection: removes the blobs no `index.json` entry reaches, and the
 * temp files of writes interrupted over an hour ago.
 *
 * Safe beside concurrent writers (fetch, create, push into the same layout):
 * - gc holds `index.json.lock` from listing the blobs to the last removal, so
 *   no ref can be added meanwhile; a writer's addRef waits, then re-checks
 *   under the lock that every blob its descriptor reaches is there.
 * - A writer announces itself before it writes (writers.ts); a blob written or
 *   touched at or after the start of a running writer is kept.
 * - A blob is removed by renaming it aside first: if its mtime changed since it
 *   was listed (a writer claimed it in between), it is renamed back. A writer
 *   claiming it after the rename finds it missing and stores it again.
 */
import { lstat, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { digestProblem } from "../image/digest.js";
import { tempPathIn, TEMP_PREFIX } from "../util/atomic-write.js";
import type { ImageLayout } from "./layout.js";
import { findReachable } from "./reachable.js";
import { earliestLiveWriter } from "./writers.js";

/** Temp files older than this belong to writes that were interrupted. */
export const STALE_TEMP_MS = 60 * 60 * 1000;
/** File times come from a coarser clock than Date.now(): writers count as started this much earlier. */
const CLOCK_MARGIN_MS = 2000;

export interface RemovedFile {
  /** A blob's digest, or a temp file's name in the layout root. */
  name: string;
  size: number;
}

export interface GcResult {
  blobs: RemovedFile[];
  temporary: RemovedFile[];
  /** Bytes freed (or, with dryRun, that would be). */
  bytes: number;
  /** Unreferenced blobs kept because a running writer may be about to reference them. */
  kept: number;
}

interface BlobFile {
  digest: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export async function collectGarbage(layout: ImageLayout, options: { dryRun?: boolean; signal?: AbortSignal } = {}) {
  let result: GcResult | undefined;
  await layout.updateIndex(async (index) => {
    const listed = await listBlobFiles(layout.root);
    const writersSince = await earliestLiveWriter(layout.root);
    const { blobs: reached } = await findReachable(layout, index.manifests).catch((error: unknown) => {
      if (error instanceof Error)
        error.message = `gc stopped, nothing removed: ${error.message} (run oci-image validate ${layout.root})`;
      throw error;
    });
    const unreferenced = listed.filter((blob) => !reached.has(blob.digest));
    const protectedFrom = writersSince === undefined ? Infinity : writersSince - CLOCK_MARGIN_MS;
    const doomed = unreferenced.filter((blob) => blob.mtimeMs < protectedFrom);
    const removed: RemovedFile[] = [];
    for (const blob of doomed) {
      options.signal?.throwIfAborted();
      if (options.dryRun || (await removeUnclaimed(layout.root, blob)))
        removed.push({ name: blob.digest, size: blob.size });
    }
    const temporary = await removeStaleTemps(layout.root, options.dryRun === true);
    const bytes = [...removed, ...temporary].reduce((sum, file) => sum + file.size, 0);
    result = { blobs: removed, temporary, bytes, kept: unreferenced.length - doomed.length };
    return index;
  }, options.signal);
  return result!;
}

/** Removes a blob unless a writer claimed it (touched it) since it was listed. */
async function removeUnclaimed(root: string, blob: BlobFile): Promise<boolean> {
  const aside = tempPathIn(root);
  try {
    await rename(blob.path, aside);
  } catch {
    return false; // Gone already.
  }
  const info = await stat(aside);
  if (info.mtimeMs !== blob.mtimeMs) {
    // Claimed in between: put it back (a copy a writer stored meanwhile has the same bytes).
    await rename(aside, blob.path);
    return false;
  }
  await unlink(aside);
  return true;
}

async function listBlobFiles(root: string): Promise<BlobFile[]> {
  const files: BlobFile[] = [];
  for (const algorithm of await readdir(join(root, "blobs")).catch(() => [] as string[])) {
    const directory = join(root, "blobs", algorithm);
    for (const name of await readdir(directory).catch(() => [] as string[])) {
      const digest = `${algorithm}:${name}`;
      // Files not named by a digest are not blobs: left alone (validate reports them).
      if (digestProblem(digest)) continue;
      const path = join(directory, name);
      const info = await lstat(path).catch(() => undefined);
      if (info?.isFile()) files.push({ digest, path, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
  return files.sort((a, b) => (a.digest < b.digest ? -1 : 1));
}

async function removeStaleTemps(root: string, dryRun: boolean): Promise<RemovedFile[]> {
  const removed: RemovedFile[] = [];
  for (const name of (await readdir(root)).sort()) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const info = await lstat(join(root, name)).catch(() => undefined);
    if (!info?.isFile() || Date.now() - info.mtimeMs < STALE_TEMP_MS) continue;
    if (!dryRun) await unlink(join(root, name)).catch(() => {});
    removed.push({ name, size: info.size });
  }
  return removed;
}
