/**
 * The blobs of a pull: at most `jobs` at once, one download per digest however
 * often it is named, skipped when stored already, downloaded again (the whole
 * blob) when its bytes are wrong; the first failure stops the others.
 */
import { DigestMismatchError, RegistryError } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { blobWhat, openBlobStream } from "./blob-source.js";
import { Limiter } from "../util/concurrency.js";
import type { PullOptions } from "./pull-types.js";
import { withRetries, type Verdict } from "./transport/retry.js";

export class BlobDownloader {
  readonly stats = { fetched: 0, skipped: 0, bytes: 0 };
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly limit: Limiter;

  constructor(
    private readonly options: PullOptions,
    private readonly name: string,
    private readonly stop: AbortController,
  ) {
    this.limit = new Limiter(Math.max(1, options.jobs ?? 4));
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
    const { sink, client, events, reference } = this.options;
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
