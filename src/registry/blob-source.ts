/**
 * A blob as one stream of bytes across reconnects: when the connection drops
 * or stalls mid-blob, the rest is asked for with `Range: bytes=N-`; a 206 whose
 * `Content-Range` starts at N continues the stream, a 200 (no range support)
 * is read from the start with its first N bytes skipped. The consumer verifies
 * size and digest of the whole; this stream never yields more than the
 * descriptor's size.
 */
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { DigestMismatchError, RegistryError } from "../errors.js";
import { parseDigest } from "../image/digest.js";
import type { RegistryClient } from "./client.js";
import { describeNetworkError, formatDuration, headerValue, isRetryableNetworkError } from "./http-errors.js";

export interface BlobRequest {
  repository: string;
  digest: string;
  size: number;
  /** Text naming the image for messages. */
  name: string;
}

export function openBlobStream(client: RegistryClient, blob: BlobRequest): Readable {
  parseDigest(blob.digest, blob.digest);
  return Readable.from(blobChunks(client, blob), { objectMode: false });
}

async function* blobChunks(client: RegistryClient, blob: BlobRequest): AsyncGenerator<Buffer> {
  const what = `fetching blob ${blob.digest} of ${blob.name} from ${client.registry}`;
  const path = `/v2/${blob.repository}/blobs/${blob.digest}`;
  let offset = 0;
  let drops = 0;
  for (;;) {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const response = await client.get(path, blob.repository, what, headers);
    let skip = 0;
    if (offset > 0) {
      if (response.status === 206) {
        const start = /^bytes (\d+)-/.exec(headerValue(response.headers, "content-range") ?? "")?.[1];
        if (start === undefined || Number(start) !== offset) {
          response.body.destroy();
          throw new RegistryError(
            "BLOB_RANGE_INVALID",
            `${what}: asked to resume at byte ${offset}, got Content-Range "${headerValue(response.headers, "content-range") ?? ""}"`,
          );
        }
      } else {
        skip = offset; // The whole blob again: drop what was already passed on.
      }
    }
    const body = response.body;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        let data = chunk;
        if (skip > 0) {
          if (data.length <= skip) {
            skip -= data.length;
            continue;
          }
          data = data.subarray(skip);
          skip = 0;
        }
        if (offset + data.length > blob.size) {
          throw new DigestMismatchError(
            `${what}: the registry sent more than the ${blob.size} bytes the descriptor declares`,
            { where: blob.digest },
          );
        }
        offset += data.length;
        yield data;
      }
      if (offset >= blob.size) return;
      // Ended cleanly but short: resume like a dropped connection.
      throw Object.assign(new Error("the response ended early"), { code: "UND_ERR_RES_CONTENT_LENGTH_MISMATCH" });
    } catch (error) {
      if (error instanceof DigestMismatchError || !isRetryableNetworkError(error) || client.retries <= drops) {
        if (error instanceof DigestMismatchError || !isRetryableNetworkError(error)) throw error;
        throw client.networkFailure(`${what} (at byte ${offset} of ${blob.size})`, error, drops);
      }
      drops++;
      const delay = client.backoff(drops - 1);
      client.notifyRetry(
        `${what}: ${describeNetworkError(error, client.timeoutMs)} at byte ${offset} of ${blob.size}; resuming in ${formatDuration(delay)} (${drops}/${client.retries})`,
      );
      await sleep(delay, undefined, { signal: client.signal });
    } finally {
      body.destroy();
    }
  }
}
