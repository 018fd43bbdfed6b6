/**
 * `push` as one call: an image of a layout (a manifest, a whole index, or one
 * platform of an index) to a registry: the blobs, then the child manifests,
 * then the top document under its tag, so that a failure never leaves the tag
 * pointing at something incomplete. Each blob is checked against its digest
 * as it is sent (one read, no pass before): a blob that does not match is
 * abandoned before the registry commits it, and then no document is pushed.
 * A blob the registry already has is not read at all.
 */
import { DigestMismatchError, UsageError } from "../errors.js";
import type { PlatformSpec } from "../image/platform.js";
import { CONTAINERD_NAME_ANNOTATION, type Descriptor } from "../image/types.js";
import { ImageLayout } from "../layout/layout.js";
import { refNameOf } from "../layout/refs.js";
import { pushBlobs, type BlobPushStats } from "../registry/blob-push.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { putManifest } from "../registry/manifest-push.js";
import type { PullEvents } from "../registry/pull-types.js";
import { formatName, isValidTag, parseReference, type ImageReference } from "../registry/reference.js";
import type { UploadTarget } from "../registry/upload-session.js";
import { openLayoutBlob, planPush, type PushPlan } from "./push-plan.js";

/**
 * Blobs up to this go in one PUT: one request, read once. Larger ones go in
 * PATCHes of this size, so that a dropped connection costs at most one chunk.
 */
export const DEFAULT_CHUNK_SIZE = 128 * 1024 * 1024;

export interface PushImageOptions {
  /** The layout directory. */
  layout: string;
  /** The layout ref to push (none: the layout's only image). */
  ref?: string;
  /** Where to: a tag, a digest (checked against what is pushed) or neither (then the layout's tag, else latest). */
  reference: ImageReference;
  platform?: PlatformSpec;
  /** A repository of the same registry to mount blobs from (else the image's own source, when there). */
  from?: string;
  jobs?: number;
  chunkSize?: number;
  connection?: Omit<RegistryClientOptions, "registry" | "signal">;
  signal?: AbortSignal;
  events?: Pick<PullEvents, "blobsPlanned" | "blobStarted" | "blobSkipped" | "warning">;
}

export interface PushImageResult {
  /** `host/repository@sha256:…`, for pinning. */
  reference: string;
  digest: string;
  mediaType: string;
  /** What the top document was pushed under: a tag, or its digest. */
  tag?: string;
  blobs: BlobPushStats;
}

export async function pushImage(options: PushImageOptions): Promise<PushImageResult> {
  const { reference, signal } = options;
  const layout = await ImageLayout.open(options.layout);
  const entry = await layout.resolveRef(options.ref);
  const plan = await planPush(layout, entry, options.platform);
  const digest = plan.top.descriptor.digest;
  if (reference.digest && reference.digest !== digest)
    throw new DigestMismatchError(
      `${formatName(reference)}@${reference.digest} was asked for, but the image is ${digest}; nothing was pushed`,
      { where: options.layout },
    );
  // A digest alone pushes by digest; neither tag nor digest takes the layout's tag.
  const tag = reference.tag ?? (reference.digest ? undefined : (layoutTag(entry, options.ref) ?? "latest"));
  const jobs = options.jobs ?? 4;
  signal?.throwIfAborted();
  const client = new RegistryClient({ ...options.connection, registry: reference.registry, signal });
  const target: UploadTarget = { client, repository: reference.repository, name: formatName(reference) };
  try {
    options.events?.blobsPlanned?.(plan.blobs);
    const blobs = await pushBlobs(plan.blobs, {
      target,
      open: (descriptor, start, end) => openLayoutBlob(layout, descriptor, start, end),
      chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
      jobs,
      mountFrom: options.from ?? sourceRepository(entry, reference),
      events: options.events,
    });
    await pushDocuments(target, plan, tag ?? digest);
    return { reference: `${target.name}@${digest}`, digest, mediaType: plan.top.descriptor.mediaType, tag, blobs };
  } finally {
    await client.close();
  }
}

/** Child manifests by digest, children first; the top document last, under `reference`. */
async function pushDocuments(target: UploadTarget, plan: PushPlan, reference: string): Promise<void> {
  for (const document of plan.documents) {
    const isTop = document === plan.top;
    await putManifest(target, {
      mediaType: document.descriptor.mediaType,
      bytes: document.bytes,
      reference: isTop ? reference : document.descriptor.digest,
    });
  }
}

/** The layout's name for the image as a registry tag (none: pushed by digest only). */
function layoutTag(entry: Descriptor, ref: string | undefined): string | undefined {
  const name = ref ?? refNameOf(entry);
  if (name === undefined) return undefined;
  if (!isValidTag(name))
    throw new UsageError(`the layout ref "${name}" is not a registry tag: give the tag in the image reference`);
  return name;
}

/** The repository the image was fetched from, when it is another one of the same registry. */
function sourceRepository(entry: Descriptor, reference: ImageReference): string | undefined {
  const name = entry.annotations?.[CONTAINERD_NAME_ANNOTATION];
  if (!name) return undefined;
  try {
    const source = parseReference(name);
    return source.registry === reference.registry && source.repository !== reference.repository
      ? source.repository
      : undefined;
  } catch {
    return undefined;
  }
}
