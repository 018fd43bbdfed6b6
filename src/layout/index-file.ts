/**
 * `index.json`: read strictly, and updated atomically under a lock file so that
 * two processes adding refs at once both end up in it.
 */
import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidContentError, NotFoundError, OciImageError } from "../errors.js";
import { parseJsonDocument } from "../image/json.js";
import { MediaType } from "../image/media-types.js";
import type { ImageIndex } from "../image/types.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { readDocumentFile } from "./read-document-file.js";
import { processRuns } from "../util/process-alive.js";

const LOCK_NAME = "index.json.lock";
/** A lock older than this is from a process that died; it is broken. */
const STALE_LOCK_MS = 60_000;
const LOCK_WAIT_MS = 120_000;

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

/** Reads and parses `index.json`; shape checks beyond "an object with manifests" are validate's job. */
export async function readIndexFile(root: string): Promise<ImageIndex> {
  const path = join(root, "index.json");
  // Not a plain readFile: a FIFO or device in its place must not block the read.
  const file = await readDocumentFile(path);
  if (file.missing)
    throw new NotFoundError("LAYOUT_INDEX_MISSING", `${path} is missing: not an OCI image layout`, { where: path });
  const index = parseJsonDocument(file.bytes, path) as ImageIndex;
  if (typeof index !== "object" || index === null || !Array.isArray(index.manifests)) {
    throw new InvalidContentError("LAYOUT_INDEX_INVALID", `${path} is not an image index (no "manifests" array)`, {
      where: path,
    });
  }
  return index;
}

export async function writeIndexFile(root: string, index: ImageIndex): Promise<void> {
  await writeFileAtomic(join(root, "index.json"), JSON.stringify(index, null, 2) + "\n");
}

/**
 * Read-modify-write of `index.json` while holding `index.json.lock`. `change`
 * gets the current index and returns the new one.
 */
export async function updateIndexFile(
  root: string,
  change: (index: ImageIndex) => ImageIndex | Promise<ImageIndex>,
  signal?: AbortSignal,
): Promise<ImageIndex> {
  const release = await acquireLock(join(root, LOCK_NAME), signal);
  try {
    const current = await readIndexFile(root);
    const next = await change(current);
    // A change that gives back the index it was given writes nothing.
    if (next !== current) await writeIndexFile(root, next);
    return next;
  } finally {
    await release();
  }
}

async function acquireLock(path: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(path).catch(() => {});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const stale = await staleLockInode(path);
    if (stale !== undefined) {
      await breakStaleLock(path, stale);
      continue;
    }
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw new OciImageError(
        "LAYOUT_LOCKED",
        `${path} is held by another process; remove it if no oci-image is running`,
        { where: path },
      );
    }
    await sleep(Math.min(10 * 2 ** attempt, 200) + Math.random() * 10);
  }
}

/**
 * The inode of the lock when it is stale: its owner's pid no longer runs, or
 * (pid unreadable) it is very old. A lock whose owner still runs is never stale.
 */
async function staleLockInode(path: string): Promise<bigint | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path, { bigint: true })]);
    const pid = Number.parseInt(text, 10);
    const ownerKnown = Number.isInteger(pid) && pid > 0;
    const stale = ownerKnown ? !processRuns(pid) : Date.now() - Number(info.mtimeMs) > STALE_LOCK_MS;
    return stale ? info.ino : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a stale lock without ever removing a fresh one: the lock is renamed
 * aside (atomic, so only one process gets it) and, if what was moved is not
 * the stale inode (another process broke it and locked again in between), it
 * is linked back into place (link never replaces an existing lock).
 */
export async function breakStaleLock(path: string, staleInode: bigint): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return; // Already gone: someone else broke it.
  }
  const moved = await stat(aside, { bigint: true }).catch(() => undefined);
  if (moved && moved.ino !== staleInode) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
