/**
 * A large blob as several `Range` requests at once, each written at its offset
 * (the sink hashes the whole in order and checks it). The blob is first asked
 * for whole, as one range; if that stream proves slow (range-split.ts), the
 * rest of it is split: the first stream stops early, and the parts after it go
 * to parallel ranges. Parts get smaller as the blob runs out (a part is the rest
 * ÷ the connections, at least 2 MiB), so the connections finish together
 * instead of waiting on one long last part, while each connection asks only a
 * few times (every request costs a round trip of idle connection). A part that
 * fails resumes alone from its last written byte, on the transport's retry
 * budget; a 200 or a different `Content-Range`, on any part, stops them all
 * with BLOB_RANGES_REFUSED, and the caller fetches the blob as one stream.
 */
import { RegistryError } from "../errors.js";
import { blobWhat, resumeVerdict, type BlobRequest } from "./blob-source.js";
import type { RegistryClient, RegistryResponse } from "./client.js";
import { headerValue } from "./http-errors.js";
import type { Limiter } from "../util/concurrency.js";
import type { PartWriter } from "./pull-types.js";
import { worthSplitting } from "./range-split.js";
import { guardedChunks, type Body } from "./transport/stall.js";

/** Blobs this large or larger are fetched by ranges. */
export const RANGES_FROM_BYTES = 32 * 1024 * 1024;
const MIN_PART_BYTES = 2 * 1024 * 1024;
/** Bytes gathered before one positional write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

interface Part {
  start: number;
  /** Exclusive; the first part's end moves closer when the blob is split. */
  end: number;
}

/** One ranged download: the first part, the parts still to hand out, the bodies in flight, the first failure. */
class RangedBlob {
  /** The whole blob at first. */
  readonly first: Part;
  /** The first byte not yet in a part: nothing is left to hand out until the blob is split. */
  private next: number;
  private failure?: { error: unknown };
  private readonly bodies = new Set<Body>();
  private decide!: () => void;
  /** Settles once the first part is split or has ended (then there is nothing more to hand out). */
  readonly decided = new Promise<void>((resolve) => (this.decide = resolve));
  /** Whether the first part was split or ended: `decided` has settled. */
  private isDecided = false;
  readonly what: string;

  constructor(
    readonly client: RegistryClient,
    readonly blob: BlobRequest,
    readonly writer: PartWriter,
    private readonly workers: number,
  ) {
    this.what = blobWhat(client, blob);
    this.first = { start: 0, end: blob.size };
    this.next = blob.size;
  }

  get undecided(): boolean {
    return !this.isDecided;
  }

  /** The first part stops `offset` + its share of the rest; the other parts are handed out from there. */
  splitAt(offset: number): void {
    if (this.isDecided) return;
    this.isDecided = true;
    const rest = this.first.end - offset;
    const share = Math.max(MIN_PART_BYTES, Math.ceil(rest / this.workers));
    if (share < rest) this.first.end = this.next = offset + share;
    this.decide();
  }

  /** The first part ran to its end or failed: nothing is split any more. */
  settle(): void {
    this.isDecided = true;
    this.decide();
  }

  /** The next part, sized to the rest of the blob; undefined when none is left or after a failure. */
  take(): Part | undefined {
    const left = this.blob.size - this.next;
    if (left <= 0 || this.failure) return undefined;
    const size = Math.min(left, Math.max(MIN_PART_BYTES, Math.ceil(left / this.workers)));
    const part = { start: this.next, end: this.next + size };
    this.next = part.end;
    return part;
  }

  /** The first failure stops the other parts at once (their bodies are destroyed, not retried). */
  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    for (const body of this.bodies) body.destroy();
    this.settle();
  }

  get stopped(): boolean {
    return this.failure !== undefined;
  }

  get error(): unknown {
    return this.failure?.error;
  }

  track(body: Body): () => void {
    this.bodies.add(body);
    return () => this.bodies.delete(body);
  }
}

/**
 * Fetches the blob by ranges into `writer`, at most `workers` at once and each
 * holding a slot of `connections` while it runs.
 */
export async function fetchBlobRanges(
  client: RegistryClient,
  blob: BlobRequest,
  writer: PartWriter,
  connections: Limiter,
  workers: number,
): Promise<void> {
  const ranged = new RangedBlob(client, blob, writer, workers);
  const takeParts = async () => {
    for (;;) {
      const done = await connections.run(async () => {
        const part = ranged.take();
        if (part) await fetchPart(ranged, part);
        return !part;
      });
      if (done) return;
    }
  };
  const first = connections
    .run(() => fetchPart(ranged, ranged.first))
    .then(() => {
      ranged.settle();
      return takeParts();
    });
  const others = Array.from({ length: workers - 1 }, async () => {
    await Promise.race([ranged.decided, first]);
    await takeParts();
  });
  const settled = await Promise.allSettled(
    [first, ...others].map((job) =>
      job.catch((error: unknown) => {
        ranged.fail(error);
        throw error;
      }),
    ),
  );
  if (ranged.stopped) throw ranged.error;
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
}

/** One part, resumed from its last written byte after a network failure. */
async function fetchPart(ranged: RangedBlob, part: Part): Promise<void> {
  const { client, blob } = ranged;
  const state = { offset: part.start };
  const what = `${ranged.what} (bytes ${part.start}-${part.end - 1})`;
  const budget = client.retryBudget(
    what,
    resumeVerdict(client, what, blob, () => state.offset),
  );
  const path = `/v2/${blob.repository}/blobs/${blob.digest}`;
  for (;;) {
    if (ranged.stopped) throw ranged.error;
    const asked = part.end;
    const headers = { range: `bytes=${state.offset}-${asked - 1}` };
    const response = await client.request({ path, repository: blob.repository, headers, what }, async (r) => r);
    const untrack = ranged.track(response.body);
    try {
      checkContentRange(response, state.offset, asked, blob.size, what);
      await copyPart(ranged, response.body, state, part, asked);
      return;
    } catch (error) {
      if (ranged.stopped) throw ranged.error;
      await budget.afterFailure(error);
    } finally {
      untrack();
      response.body.destroy();
    }
  }
}

/**
 * Writes the body at the part's offsets in batches, up to `part.end` (which
 * may move closer while the first part runs: the rest of the answer is then
 * dropped); `state.offset` is the first byte not yet written.
 */
async function copyPart(ranged: RangedBlob, body: Body, state: { offset: number }, part: Part, asked: number) {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batchBytes === 0) return;
    await ranged.writer.write(batch, state.offset);
    state.offset += batchBytes;
    batch = [];
    batchBytes = 0;
  };
  const watch = part === ranged.first ? splitWatch(ranged) : undefined;
  for await (const chunk of guardedChunks(body, ranged.client.timeoutMs)) {
    const at = state.offset + batchBytes;
    if (at + chunk.length > asked)
      throw new RegistryError("BLOB_RANGE_INVALID", `${ranged.what}: the answer holds more than the range asked for`);
    watch?.(at + chunk.length);
    const wanted = chunk.subarray(0, Math.max(0, part.end - at));
    batch.push(wanted);
    batchBytes += wanted.length;
    if (batchBytes >= WRITE_BATCH_BYTES || at + chunk.length >= part.end) await flush();
    if (state.offset >= part.end) return;
  }
  await flush();
  // Ended cleanly but short: resume like a dropped connection.
  if (state.offset < part.end)
    throw Object.assign(new Error("the response ended early"), { code: "UND_ERR_RES_CONTENT_LENGTH_MISMATCH" });
}

/** Measures the first part's stream and splits the blob once it proves slow. */
function splitWatch(ranged: RangedBlob): (received: number) => void {
  let since: { time: number; offset: number } | undefined;
  return (received) => {
    if (!ranged.undecided) return;
    const now = performance.now();
    since ??= { time: now, offset: received };
    const verdict = worthSplitting({
      bytes: received - since.offset,
      elapsedMs: now - since.time,
      remaining: ranged.first.end - received,
    });
    if (verdict === true) ranged.splitAt(received);
    else if (verdict === false) ranged.settle();
  };
}

/** A 206 for exactly `bytes start-(end-1)/size`; anything else means ranges are not to be used here. */
function checkContentRange(response: RegistryResponse, start: number, end: number, size: number, what: string): void {
  const range = headerValue(response.headers, "content-range") ?? "";
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
  const exact =
    response.status === 206 &&
    match !== null &&
    Number(match[1]) === start &&
    Number(match[2]) === end - 1 &&
    (match[3] === "*" || Number(match[3]) === size);
  if (exact) return;
  const answer = response.status === 206 ? `Content-Range "${range}"` : `${response.status} (the whole blob)`;
  throw new RegistryError(
    "BLOB_RANGES_REFUSED",
    `${what}: asked for bytes ${start}-${end - 1} of ${size}, got ${answer}`,
  );
}
