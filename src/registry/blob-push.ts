/**
 * The blobs of a push, `jobs` at once: skipped when the repository has them
 * (HEAD), mounted from another repository of the registry when one is named,
 * uploaded otherwise. The first failure stops new ones from starting.
 */
import type { Descriptor } from "../image/types.js";
import { uploadBlob, type BlobOpener } from "./blob-upload.js";
import type { PullEvents } from "./pull-types.js";
import { blobExists, mountBlob, type UploadSession, type UploadTarget } from "./upload-session.js";
import { runLimited } from "../util/concurrency.js";

export interface BlobPushOptions {
  target: UploadTarget;
  open: BlobOpener;
  /** Blobs larger than this are sent in PATCHes of this size. */
  chunkSize: number;
  jobs: number;
  /** A repository of the same registry that may hold the blobs (mounted from, not uploaded). */
  mountFrom?: string;
  events?: Pick<PullEvents, "blobStarted" | "blobSkipped">;
}

export interface BlobPushStats {
  pushed: number;
  skipped: number;
  mounted: number;
  /** Blob bytes sent, every attempt counted. */
  bytes: number;
}

export async function pushBlobs(descriptors: readonly Descriptor[], options: BlobPushOptions): Promise<BlobPushStats> {
  const stats: BlobPushStats = { pushed: 0, skipped: 0, mounted: 0, bytes: 0 };
  const unique = [...new Map(descriptors.map((descriptor) => [descriptor.digest, descriptor])).values()];
  // The largest first: the longest upload does not wait for a free place behind small ones.
  unique.sort((a, b) => b.size - a.size);
  await runLimited(
    unique.map((descriptor) => () => pushBlob(descriptor, options, stats)),
    Math.max(1, options.jobs),
  );
  return stats;
}

async function pushBlob(descriptor: Descriptor, options: BlobPushOptions, stats: BlobPushStats): Promise<void> {
  const { target, events } = options;
  if (await blobExists(target, descriptor.digest)) {
    stats.skipped++;
    events?.blobSkipped?.(descriptor);
    return;
  }
  let session: UploadSession | undefined;
  if (options.mountFrom && options.mountFrom !== target.repository) {
    const mount = await mountBlob(target, descriptor.digest, options.mountFrom);
    if (mount.mounted) {
      stats.mounted++;
      events?.blobSkipped?.(descriptor);
      return;
    }
    session = mount.session;
  }
  const progress = events?.blobStarted?.(descriptor);
  try {
    await uploadBlob({
      target,
      descriptor,
      open: options.open,
      chunkSize: options.chunkSize,
      session,
      onProgress: progress ? (bytes) => progress.update(bytes, descriptor.size) : undefined,
      onSent: (bytes) => (stats.bytes += bytes),
    });
  } catch (error) {
    progress?.failed();
    throw error;
  }
  stats.pushed++;
  progress?.done();
}
