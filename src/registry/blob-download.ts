/**
 * The blobs of a pull: at most `jobs` at once, one download per digest however
 * often it is named, skipped when stored already, downloaded again (the whole
 * blob) when its bytes are wrong; the first failure stops the others. Every
 * request for blob bytes holds one of `connections` slots: a small blob holds
 * one for its single stream, a large one (RANGES_FROM_BYTES) takes a slot per
 * range as slots come free, so the connections go wherever bytes are left.
 */
import { DigestMismatchError, RegistryError } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { fetchBlobRanges, RANGES_FROM_BYTES } from "./blob-ranges.js";
import { blobWhat, openBlobStream, type BlobRequest } from "./blob-source.js";
import { Limiter } from "../util/concurrency.js";
import type { PullOptions } from "./pull-types.js";
import { withRetries, type Verdict } from "./transport/retry.js";

type StoredBlob = { digest: string; size: number; existed: boolean };

/** HTTP connections for blobs at once, in total, unless told otherwise. */
export const DEFAULT_CONNECTIONS = 12;

export class BlobDownloader {
  readonly stats = { fetched: 0, skipped: 0, bytes: 0 };
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly limit: Limiter;
  private readonly connections: Limiter;
  private readonly connectionCount: number;
  /** Set once the registry refused a range: every blob after that comes as one stream. */
  private rangesRefused = false;

  constructor(
    private readonly options: PullOptions,
    private readonly name: string,
    private readonly stop: AbortController,
  ) {
    this.limit = new Limiter(Math.max(1, options.jobs ?? 4));
    this.connectionCount = Math.max(1, options.connections ?? DEFAULT_CONNECTIONS);
    this.connections = new Limiter(this.connectionCount);
  }

  /** Downloads one blob unless stored already; one download per digest however often it is named. */
  fetch(descriptor: Descriptor): Promise<void> {
    const existing = this.inFlight.get(descriptor.digest);
    if (existing) return existing;
    const job = this.limit.run(() => this.downloadBlob(descriptor));
    this.inFlight.set(descriptor.digest, job);
    return job;
  }

  private async downloadBlob(descriptor: Descriptor): Promise<void> {
    const { sink, client, events } = this.options;
    this.stop.signal.throwIfAborted();
    if (await sink.hasBlob(descriptor.digest, descriptor.size)) {
      this.stats.skipped++;
      events?.blobSkipped?.(descriptor);
      return;
    }
    const what = blobWhat(client, { digest: descriptor.digest, name: this.name });
    await withRetries(
      client.policy,
      what,
      () => this.downloadOnce(descriptor),
      (error) => this.badBytes(error, what),
    );
  }

  private async downloadOnce(descriptor: Descriptor): Promise<void> {
    const { events, reference } = this.options;
    const progress = events?.blobStarted?.(descriptor);
    const blob: BlobRequest = {
      repository: reference.repository,
      digest: descriptor.digest,
      size: descriptor.size,
      name: this.name,
    };
    const onProgress = progress ? (bytes: number) => progress.update(bytes, descriptor.size) : undefined;
    try {
      const stored = (await this.storeByRanges(blob, onProgress)) ?? (await this.storeAsStream(blob, onProgress));
      if (stored.existed) this.stats.skipped++;
      else {
        this.stats.fetched++;
        this.stats.bytes += stored.size;
      }
      progress?.done();
    } catch (error) {
      progress?.failed();
      throw error;
    }
  }

  private storeAsStream(blob: BlobRequest, onProgress?: (bytes: number) => void): Promise<StoredBlob> {
    const expected = { digest: blob.digest, size: blob.size };
    return this.connections.run(() =>
      this.options.sink.putBlob(openBlobStream(this.options.client, blob), {
        expected,
        signal: this.stop.signal,
        onProgress,
      }),
    );
  }

  /** A large blob by ranges, when the sink and the registry allow; undefined: fetch it as one stream. */
  private async storeByRanges(
    blob: BlobRequest,
    onProgress?: (bytes: number) => void,
  ): Promise<StoredBlob | undefined> {
    const { sink, client } = this.options;
    const workers = Math.min(this.connectionCount, Math.ceil(blob.size / (4 * 1024 * 1024)));
    if (!sink.putBlobParts || this.rangesRefused || blob.size < RANGES_FROM_BYTES || workers < 2) return undefined;
    const expected = { digest: blob.digest, size: blob.size };
    try {
      return await sink.putBlobParts((writer) => fetchBlobRanges(client, blob, writer, this.connections, workers), {
        expected,
        signal: this.stop.signal,
        onProgress,
      });
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === "BLOB_RANGES_REFUSED") || this.stop.signal.aborted)
        throw error;
      this.rangesRefused = true;
      return undefined;
    }
  }

  /** Wrong bytes or a bad resume: the whole blob again, at once; anything else is not retried here. */
  private badBytes(error: unknown, what: string): Verdict | undefined {
    if (this.stop.signal.aborted) return undefined;
    if (error instanceof DigestMismatchError) {
      return {
        retry: true,
        reason: error.message,
        delayMs: 0,
        action: "downloading it again",
        fail: (attempts) =>
          new DigestMismatchError(
            `${what}: ${error.message}${attempts > 1 ? ` (${attempts} attempts)` : ""}; nothing of it was kept`,
            { where: error.where, cause: error },
          ),
      };
    }
    if (error instanceof RegistryError && error.code === "BLOB_RANGE_INVALID")
      return { retry: true, reason: error.message, delayMs: 0, fail: () => error };
    return undefined;
  }

  /** Like Promise.all, but the first failure stops the other downloads. */
  async all(jobs: Promise<unknown>[]): Promise<void> {
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
