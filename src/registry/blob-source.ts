/**
 * A blob as one stream of bytes across reconnects: when the connection drops,
 * stalls or trickles mid-blob, the rest is asked for with `Range: bytes=N-`; a
 * 206 whose `Content-Range` starts at N continues the stream, a 200 (no range
 * support) is read from the start with its first N bytes skipped. The consumer
 * (a blob sink: the layout's putBlob) verifies as the bytes flow: no byte past
 * the declared size, then the digest of the whole. Hashing here too would hash
 * every blob twice.
 */
import { Readable } from "node:stream";
import { OciImageError, RegistryError } from "../errors.js";
import { parseDigest } from "../image/digest.js";
import type { RegistryClient, RegistryResponse } from "./client.js";
import { describeNetworkError, headerValue, isRetryableNetworkError } from "./http-errors.js";
import { networkFailure, type Classifier } from "./transport/retry.js";
import { guardedChunks } from "./transport/stall.js";

export interface BlobRequest {
  repository: string;
  digest: string;
  size: number;
  /** Text naming the image for messages. */
  name: string;
}

export function blobWhat(client: RegistryClient, blob: { digest: string; name: string }): string {
  return `fetching blob ${blob.digest} of ${blob.name} from ${client.host}`;
}

export function openBlobStream(client: RegistryClient, blob: BlobRequest): Readable {
  // The digest goes into a URL: its grammar first.
  parseDigest(blob.digest, blob.digest);
  return Readable.from(blobChunks(client, blob), { objectMode: false });
}

async function* blobChunks(client: RegistryClient, blob: BlobRequest): AsyncGenerator<Buffer> {
  const what = blobWhat(client, blob);
  const path = `/v2/${blob.repository}/blobs/${blob.digest}`;
  let offset = 0;
  const budget = client.retryBudget(
    what,
    resumeVerdict(client, what, blob, () => offset),
  );
  for (;;) {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const response = await client.request({ path, repository: blob.repository, headers, what }, async (r) => r);
    let skip = offset > 0 ? bytesToSkip(response, offset, what) : 0;
    try {
      for await (const chunk of guardedChunks(response.body, client.timeoutMs)) {
        let data = chunk;
        if (skip > 0) {
          const dropped = Math.min(skip, data.length);
          data = data.subarray(dropped);
          skip -= dropped;
          if (data.length === 0) continue;
        }
        offset += data.length;
        yield data;
      }
      if (offset >= blob.size) return;
      // Ended cleanly but short: resume like a dropped connection.
      throw Object.assign(new Error("the response ended early"), { code: "UND_ERR_RES_CONTENT_LENGTH_MISMATCH" });
    } catch (error) {
      await budget.afterFailure(error);
    } finally {
      response.body.destroy();
    }
  }
}

/** A resumed answer: 206 from the offset asked for, or 200 read again from the start (bytes to skip). */
function bytesToSkip(response: RegistryResponse, offset: number, what: string): number {
  if (response.status !== 206) return offset;
  const range = headerValue(response.headers, "content-range") ?? "";
  const start = /^bytes (\d+)-/.exec(range)?.[1];
  if (start === undefined || Number(start) !== offset) {
    response.body.destroy();
    throw new RegistryError(
      "BLOB_RANGE_INVALID",
      `${what}: asked to resume at byte ${offset}, got Content-Range "${range}"`,
    );
  }
  return 0;
}

export function resumeVerdict(
  client: RegistryClient,
  what: string,
  blob: BlobRequest,
  offset: () => number,
): Classifier {
  return (error) => {
    if (error instanceof OciImageError) return undefined;
    const at = `at byte ${offset()} of ${blob.size}`;
    return {
      retry: isRetryableNetworkError(error),
      reason: `${describeNetworkError(error, client.timeoutMs)} ${at}`,
      action: "resuming",
      fail: (attempts) => networkFailure(`${what} (${at})`, error, client.policy, attempts),
    };
  };
}
