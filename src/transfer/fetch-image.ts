/**
 * `fetch` as one call: pull an image from a registry into a layout, name it
 * (containerd's name annotation, and the ref when one is given). The layout is
 * created only once something is stored; nothing is named until the image is
 * complete, so a failure leaves every ref as it was.
 */
import type { Descriptor } from "../image/types.js";
import { CONTAINERD_NAME_ANNOTATION } from "../image/types.js";
import { openLayoutLazily } from "../layout/lazy-layout.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { pullImage, type PullEvents, type PullOptions, type PullResult } from "../registry/pull.js";
import { formatReference, type ImageReference } from "../registry/reference.js";

export interface FetchImageOptions {
  reference: ImageReference;
  /** The layout directory (created when missing). */
  layout: string;
  /** The ref to name the image by (default: the reference's tag; none for a digest). */
  ref?: string;
  platform?: PullOptions["platform"];
  jobs?: number;
  /** HTTP connections for blobs at once, in total (default 12); large blobs are fetched by ranges over them. */
  connections?: number;
  /** How to talk to the registry (credentials, TLS, retries, timeout). */
  connection?: Omit<RegistryClientOptions, "registry" | "signal">;
  signal?: AbortSignal;
  events?: PullEvents;
}

export interface FetchImageResult extends PullResult {
  /** `host/repository[:tag][@digest]`, as stored in the name annotation. */
  reference: string;
  /** What index.json now holds for the image. */
  descriptor: Descriptor;
  ref?: string;
  /** The descriptor the ref named before, when it was replaced. */
  replaced?: Descriptor;
}

export async function fetchImage(options: FetchImageOptions): Promise<FetchImageResult> {
  const { reference, signal } = options;
  const client = new RegistryClient({ ...options.connection, registry: reference.registry, signal });
  try {
    const layout = await openLayoutLazily(options.layout);
    const pulled = await pullImage({
      client,
      reference,
      sink: layout,
      platform: options.platform,
      jobs: options.jobs,
      connections: options.connections,
      signal,
      events: options.events,
    });
    const name = formatReference(reference);
    const ref = options.ref ?? reference.tag;
    const descriptor = {
      ...pulled.descriptor,
      annotations: { ...pulled.descriptor.annotations, [CONTAINERD_NAME_ANNOTATION]: name },
    };
    const store = await layout.materialize();
    const { replaced } = await store.addRef(descriptor, ref, signal);
    return { ...pulled, reference: name, descriptor, ref, replaced };
  } finally {
    await client.close();
  }
}
