/**
 * Pulling an image: resolve the reference to a manifest (choosing a platform
 * from an index, or keeping them all), download config and layers a few at a
 * time into a blob sink, convert Docker documents to OCI, and store the
 * documents last so that whatever is stored is complete. The caller adds the
 * returned descriptor to its index; nothing here knows about layouts.
 */
import type { Readable } from "node:stream";
import { DigestMismatchError, InvalidContentError, NotFoundError, RegistryError } from "../errors.js";
import { convertDockerManifest, convertDockerManifestList, isDockerMediaType } from "../image/docker-to-oci.js";
import { digestProblem, isRegisteredAlgorithm } from "../image/digest.js";
import { MediaType, isIndexMediaType, isManifestMediaType } from "../image/media-types.js";
import { formatPlatform, platformMatches, type PlatformSpec } from "../image/platform.js";
import type { Descriptor, Platform } from "../image/types.js";
import { openBlobStream } from "./blob-source.js";
import type { RegistryClient } from "./client.js";
import { fetchManifest, type FetchedManifest } from "./manifest-fetch.js";
import { formatName, formatReference, type ImageReference } from "./reference.js";

/** Where pulled blobs go; an ImageLayout is one. */
export interface BlobSink {
  hasBlob(digest: string, size?: number): Promise<boolean>;
  putBlob(
    source: Readable,
    options: { expected: { digest: string; size: number }; signal?: AbortSignal; onProgress?: (bytes: number) => void },
  ): Promise<{ digest: string; size: number; existed: boolean }>;
  putBlobBytes(bytes: Uint8Array): Promise<{ digest: string; size: number; existed: boolean }>;
  readBlob(descriptor: { digest: string; size: number }): Promise<Buffer>;
}

export interface BlobProgress {
  update(bytes: number, total: number): void;
  done(): void;
  failed(): void;
}

export interface PullEvents {
  /** The blobs of an image are known (before any is downloaded); with `all` platforms, once per image. */
  blobsPlanned?(descriptors: readonly Descriptor[]): void;
  /** A blob download begins (again, on a retry). */
  blobStarted?(descriptor: Descriptor): BlobProgress;
  /** A blob was already stored and is not downloaded. */
  blobSkipped?(descriptor: Descriptor): void;
  warning?(message: string): void;
}

export interface PullOptions {
  client: RegistryClient;
  reference: ImageReference;
  sink: BlobSink;
  /** Which image of an index to keep, or "all" for the whole index. */
  platform: PlatformSpec | "all";
  /** Blobs downloaded at once (default 4). */
  jobs?: number;
  signal?: AbortSignal;
  events?: PullEvents;
}

export interface PullResult {
  /** The entry to add to index.json (OCI media type; with `platform` when one was chosen from an index). */
  descriptor: Descriptor;
  /** The digest the registry serves for the reference (before any conversion). */
  sourceDigest: string;
  sourceMediaType: string;
  /** `os/arch[/variant]` of the image stored, or "all". */
  platform: string;
  converted: boolean;
  blobs: { fetched: number; skipped: number; bytes: number };
}

const MAX_INDEX_DEPTH = 4;

export async function pullImage(options: PullOptions): Promise<PullResult> {
  return new Puller(options).run();
}

class Puller {
  private readonly blobs = { fetched: 0, skipped: 0, bytes: 0 };
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly limit: Limiter;
  private readonly stop = new AbortController();
  private readonly name: string;
  private converted = false;

  constructor(private readonly options: PullOptions) {
    this.limit = new Limiter(Math.max(1, options.jobs ?? 4));
    this.name = formatReference(options.reference);
    options.signal?.addEventListener("abort", () => this.stop.abort(options.signal!.reason), { once: true });
  }

  async run(): Promise<PullResult> {
    const { reference, platform } = this.options;
    const top = await fetchManifest(this.options.client, {
      repository: reference.repository,
      reference: reference.digest ?? reference.tag!,
      name: this.name,
    });
    let descriptor: Descriptor;
    let platformText: string;
    if (top.kind === "index" && platform === "all") {
      descriptor = await this.storeIndex(top, 0);
      platformText = "all";
    } else if (top.kind === "index") {
      const wanted = platform as PlatformSpec;
      const { fetched, entry } = await this.choosePlatform(top, wanted, 0);
      const stored = await this.storeImage(fetched);
      descriptor = { ...stored.descriptor, ...(entry.platform ? { platform: entry.platform } : {}) };
      platformText = stored.platform ?? formatPlatform(entry.platform ?? wanted);
    } else {
      const stored = await this.storeImage(top);
      descriptor = stored.descriptor;
      platformText = stored.platform ?? "unknown";
    }
    return {
      descriptor,
      sourceDigest: top.digest,
      sourceMediaType: top.mediaType,
      platform: platformText,
      converted: this.converted,
      blobs: { ...this.blobs },
    };
  }

  /** The first entry of an index for `platform`, fetched; nested indexes are searched too. */
  private async choosePlatform(
    index: FetchedManifest,
    platform: PlatformSpec,
    depth: number,
  ): Promise<{ fetched: FetchedManifest; entry: Descriptor }> {
    const children = checkDescriptors(index.document.manifests, "/manifests", this.name);
    const entry = children.find(
      (child) =>
        (isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType)) &&
        platformMatches(platform, child.platform),
    );
    if (!entry) {
      const available = [
        ...new Set(children.filter((child) => child.platform).map((child) => formatPlatform(child.platform!))),
      ];
      throw new NotFoundError(
        "PLATFORM_UNKNOWN",
        `${this.name} has no image for ${formatPlatform(platform)}; available: ${available.join(", ") || "none named"} (choose with --platform, or --platform all)`,
        { where: this.name },
      );
    }
    const fetched = await this.fetchChild(entry);
    if (fetched.kind === "index") {
      if (depth >= MAX_INDEX_DEPTH)
        throw new InvalidContentError("INDEX_TOO_DEEP", `${this.name}: indexes nest deeper than ${MAX_INDEX_DEPTH}`);
      return this.choosePlatform(fetched, platform, depth + 1);
    }
    return { fetched, entry };
  }

  private fetchChild(entry: Descriptor): Promise<FetchedManifest> {
    const { reference } = this.options;
    return fetchManifest(this.options.client, {
      repository: reference.repository,
      reference: entry.digest,
      expected: { digest: entry.digest, size: entry.size, mediaType: entry.mediaType },
      name: `${formatName(reference)}@${entry.digest}`,
    });
  }

  /** Every image of an index, then the index itself (converted when Docker's or when a child changed). */
  private async storeIndex(index: FetchedManifest, depth: number): Promise<Descriptor> {
    if (depth > MAX_INDEX_DEPTH)
      throw new InvalidContentError("INDEX_TOO_DEEP", `${this.name}: indexes nest deeper than ${MAX_INDEX_DEPTH}`);
    const children = checkDescriptors(index.document.manifests, "/manifests", this.name);
    const replacements = new Map<string, Descriptor>();
    await this.all(
      children.map(async (child) => {
        if (isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType)) {
          const fetched = await this.fetchChild(child);
          const stored =
            fetched.kind === "index"
              ? await this.storeIndex(fetched, depth + 1)
              : (await this.storeImage(fetched)).descriptor;
          if (stored.digest !== child.digest || stored.mediaType !== child.mediaType)
            replacements.set(child.digest, stored);
        } else {
          // Not a document this tool reads: keep it as a blob, byte for byte.
          await this.fetchBlob(child);
        }
      }),
    );
    let bytes = index.bytes;
    let mediaType = index.mediaType;
    if (isDockerMediaType(index.mediaType)) {
      bytes = Buffer.from(JSON.stringify(convertDockerManifestList(index.document, replacements)));
      mediaType = MediaType.ociIndex;
      this.converted = true;
    } else if (replacements.size > 0) {
      const manifests = children.map((child) => {
        const replacement = replacements.get(child.digest);
        return replacement
          ? { ...child, mediaType: replacement.mediaType, digest: replacement.digest, size: replacement.size }
          : child;
      });
      bytes = Buffer.from(JSON.stringify({ ...index.document, manifests }));
      this.converted = true;
    }
    const stored = await this.options.sink.putBlobBytes(bytes);
    return { mediaType, digest: stored.digest, size: stored.size };
  }

  /** Config and layers, then the manifest (converted when Docker's). */
  private async storeImage(manifest: FetchedManifest): Promise<{ descriptor: Descriptor; platform?: string }> {
    const config = checkDescriptors([manifest.document.config], "/config", this.name)[0]!;
    const layers = checkDescriptors(manifest.document.layers, "/layers", this.name);
    const wanted = [config, ...layers].filter((layer) => {
      if (/foreign|nondistributable/.test(layer.mediaType)) {
        this.options.events?.warning?.(
          `${this.name}: layer ${layer.digest} is a foreign layer (${layer.mediaType}); it is not downloaded and its urls are not followed`,
        );
        return false;
      }
      return true;
    });
    this.options.events?.blobsPlanned?.(wanted);
    await this.all(wanted.map((blob) => this.fetchBlob(blob)));
    let bytes = manifest.bytes;
    let mediaType = manifest.mediaType;
    if (isDockerMediaType(manifest.mediaType)) {
      bytes = Buffer.from(JSON.stringify(convertDockerManifest(manifest.document)));
      mediaType = MediaType.ociManifest;
      this.converted = true;
    }
    const stored = await this.options.sink.putBlobBytes(bytes);
    const descriptor: Descriptor = { mediaType, digest: stored.digest, size: stored.size };
    if (typeof manifest.document.artifactType === "string") descriptor.artifactType = manifest.document.artifactType;
    return { descriptor, platform: await this.platformOfConfig(config) };
  }

  private async platformOfConfig(config: Descriptor): Promise<string | undefined> {
    if (config.mediaType !== MediaType.ociConfig && config.mediaType !== MediaType.dockerConfig) return undefined;
    try {
      const parsed = JSON.parse((await this.options.sink.readBlob(config)).toString("utf8")) as Partial<Platform>;
      if (typeof parsed.os === "string" && typeof parsed.architecture === "string")
        return formatPlatform(parsed as Platform);
    } catch {
      // The platform is only reported; validate judges the config.
    }
    return undefined;
  }

  /** Downloads one blob unless stored already; one download per digest however often it is named. */
  private fetchBlob(descriptor: Descriptor): Promise<void> {
    const existing = this.inFlight.get(descriptor.digest);
    if (existing) return existing;
    const job = this.limit.run(() => this.downloadBlob(descriptor));
    this.inFlight.set(descriptor.digest, job);
    return job;
  }

  private async downloadBlob(descriptor: Descriptor): Promise<void> {
    const { sink, client, events, reference } = this.options;
    this.stop.signal.throwIfAborted();
    if (await sink.hasBlob(descriptor.digest, descriptor.size)) {
      this.blobs.skipped++;
      events?.blobSkipped?.(descriptor);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const progress = events?.blobStarted?.(descriptor);
      try {
        const source = openBlobStream(client, {
          repository: reference.repository,
          digest: descriptor.digest,
          size: descriptor.size,
          name: this.name,
        });
        const stored = await sink.putBlob(source, {
          expected: { digest: descriptor.digest, size: descriptor.size },
          signal: this.stop.signal,
          onProgress: progress ? (bytes) => progress.update(bytes, descriptor.size) : undefined,
        });
        if (stored.existed) this.blobs.skipped++;
        else {
          this.blobs.fetched++;
          this.blobs.bytes += stored.size;
        }
        progress?.done();
        return;
      } catch (error) {
        progress?.failed();
        if (error instanceof DigestMismatchError && !this.stop.signal.aborted) {
          const message = `fetching blob ${descriptor.digest} of ${this.name} from ${client.registry}: ${error.message}`;
          if (attempt < client.retries) {
            client.notifyRetry(`${message}; downloading it again (${attempt + 1}/${client.retries})`);
            continue;
          }
          throw new DigestMismatchError(
            `${message}${attempt > 0 ? ` (${attempt + 1} attempts)` : ""}; nothing of it was kept`,
            { where: descriptor.digest, cause: error },
          );
        }
        if (error instanceof RegistryError && error.code === "BLOB_RANGE_INVALID" && attempt < client.retries) continue;
        throw error;
      }
    }
  }

  /** Like Promise.all, but the first failure stops the other downloads. */
  private async all(jobs: Promise<unknown>[]): Promise<void> {
    const settled = await Promise.allSettled(
      jobs.map((job) =>
        job.catch((error: unknown) => {
          if (!this.stop.signal.aborted) this.stop.abort(error);
          throw error;
        }),
      ),
    );
    const failure = settled.find(
      (result): result is PromiseRejectedResult => result.status === "rejected" && !isAbort(result.reason),
    );
    if (failure) throw failure.reason;
    const any = settled.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (any) throw any.reason;
  }
}

function isAbort(error: unknown): boolean {
  return (error as Error)?.name === "AbortError" || (error as { code?: string })?.code === "ABORT_ERR";
}

/** The descriptors of a fetched document, checked before any digest reaches a URL or a path. */
function checkDescriptors(value: unknown, pointer: string, where: string): Descriptor[] {
  const list = value;
  if (!Array.isArray(list))
    throw new InvalidContentError("MANIFEST_INVALID", `${where}: ${pointer} is not an array`, { where, pointer });
  return list.map((item, i) => {
    const at = pointer === "/config" ? pointer : `${pointer}/${i}`;
    const bad = (why: string) =>
      new InvalidContentError("DESCRIPTOR_INVALID", `${where}: ${at}: ${why}`, { where, pointer: at });
    if (typeof item !== "object" || item === null) throw bad("not a descriptor object");
    const d = item as Record<string, unknown>;
    if (typeof d.mediaType !== "string" || !d.mediaType) throw bad("mediaType is missing");
    const problem = digestProblem(d.digest);
    if (problem) throw bad(problem);
    if (!isRegisteredAlgorithm(d.digest as string))
      throw bad(`digest algorithm of ${String(d.digest).slice(0, 80)} is not supported`);
    if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
      throw bad(`size ${JSON.stringify(d.size)} is not a whole number of bytes`);
    return d as unknown as Descriptor;
  });
}

/** Runs at most `size` tasks at once. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
