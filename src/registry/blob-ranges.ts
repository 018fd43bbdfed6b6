/**
 * A large blob as several `Range` requests at once, each written at its offset
 * (the sink hashes the whole in order and checks it). The first range is asked
 * alone; the others start once its answer is a 206 with exactly the range
 * asked for. Parts get smaller as the blob runs out (a part is the rest ÷ the
 * connections, at least 2 MiB), so the connections finish together instead of
 * waiting on one long last part, while each connection asks only a few times
 * (every request costs a round trip of idle connection). A part that fails resumes alone from its
 * last written byte, on the transport's retry budget; a 200 or a different
 * `Content-Range`, on any part, stops them all with BLOB_RANGES_REFUSED, and
 * the caller fetches the blob as one stream.
 */
import { RegistryError } from "../errors.js";
import { blobWhat, resumeVerdict, type BlobRequest } from "./blob-source.js";
import type { RegistryClient, RegistryResponse } from "./client.js";
import { headerValue } from "./http-errors.js";
import type { Limiter } from "../util/concurrency.js";
import type { PartWriter } from "./pull-types.js";
import { guardedChunks, type Body } from "./transport/stall.js";

/** Blobs this large or larger are fetched by ranges. */
export const RANGES_FROM_BYTES = 32 * 1024 * 1024;
const MIN_PART_BYTES = 2 * 1024 * 1024;
/** Bytes gathered before one positional write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

interface Part {
  start: number;
  /** Exclusive. */
  end: number;
}

/** One ranged download: its parts still to fetch, the bodies in flight, the first failure. */
class RangedBlob {
  private next = 0;
  private failure?: { error: unknown };
  private readonly bodies = new Set<Body>();
  readonly what: string;

  constructor(
    readonly client: RegistryClient,
    readonly blob: BlobRequest,
    readonly writer: PartWriter,
    private readonly workers: number,
  ) {
    this.what = blobWhat(client, blob);
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
  let accept!: () => void;
  const accepted = new Promise<void>((resolve) => (accept = resolve));
  const first = ranged.take()!;
  const probe = connections.run(() => fetchPart(ranged, first, accept));
  const worker = async () => {
    await Promise.race([accepted, probe]);
    for (;;) {
      const done = await connections.run(async () => {
        const part = ranged.take();
        if (part) await fetchPart(ranged, part);
        return !part;
      });
      if (done) return;
    }
  };
  const settled = await Promise.allSettled(
    [probe, ...Array.from({ length: workers - 1 }, worker)].map((job) =>
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
async function fetchPart(ranged: RangedBlob, part: Part, accept?: () => void): Promise<void> {
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
    const headers = { range: `bytes=${state.offset}-${part.end - 1}` };
    const response = await client.request({ path, repository: blob.repository, headers, what }, async (r) => r);
    const untrack = ranged.track(response.body);
    try {
      checkContentRange(response, state.offset, part.end, blob.size, what);
      accept?.();
      await copyPart(ranged, response.body, state, part.end);
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

/** Writes the body at the part's offsets in batches; `state.offset` is the first byte not yet written. */
async function copyPart(ranged: RangedBlob, body: Body, state: { offset: number }, end: number): Promise<void> {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batchBytes === 0) return;
    await ranged.writer.write(batch, state.offset);
    state.offset += batchBytes;
    batch = [];
    batchBytes = 0;
  };
  for await (const chunk of guardedChunks(body, ranged.client.timeoutMs)) {
    if (state.offset + batchBytes + chunk.length > end)
      throw new RegistryError("BLOB_RANGE_INVALID", `${ranged.what}: the answer holds more than the range asked for`);
    batch.push(chunk);
    batchBytes += chunk.length;
    if (batchBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  // Ended cleanly but short: resume like a dropped connection.
  if (state.offset < end)
    throw Object.assign(new Error("the response ended early"), { code: "UND_ERR_RES_CONTENT_LENGTH_MISMATCH" });
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
