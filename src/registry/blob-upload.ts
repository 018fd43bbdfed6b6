/**
 * Sending one blob's bytes into an upload session: a monolithic PUT for a blob
 * up to the chunk size, else PATCHes of one chunk each and a closing PUT. A
 * failed monolithic upload starts again in a new session; a chunked one asks
 * the registry how far it got and sends only the rest. The registry's
 * `Docker-Content-Digest`, when it gives one, must be the blob's.
 *
 * The opener's whole-blob stream is the blob's digest check, and holds its
 * last bytes back until they match: a monolithic PUT of wrong bytes never
 * completes. A chunked upload cuts its PATCHes from that stream
 * (chunk-source.ts) and sends the closing PUT (the commit) only once it
 * passed. An upload given up on is cancelled, so the registry drops what it got.
 */
import { Transform, type Readable } from "node:stream";
import { DigestMismatchError, RegistryError } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { ChunkSource } from "./chunk-source.js";
import type { RegistryResponse } from "./client.js";
import { headerValue, readErrorBody } from "./http-errors.js";
import { classifyFailure, withRetries, type Classifier } from "./transport/retry.js";
import {
  blobExists,
  cancelUpload,
  PUSH_ACTIONS,
  rangeEnd,
  sessionOf,
  startUpload,
  uploadOffset,
  withQuery,
  type UploadSession,
  type UploadTarget,
} from "./upload-session.js";

/** Opens a fresh stream of a blob's bytes [start, end) for each attempt; the whole blob's is verified. */
export type BlobOpener = (descriptor: Descriptor, start?: number, end?: number) => Readable;

export interface BlobUpload {
  target: UploadTarget;
  descriptor: Descriptor;
  open: BlobOpener;
  /** Blobs larger than this go in PATCHes of this size. */
  chunkSize: number;
  /** A session already open (a mount the registry answered with an upload). */
  session?: UploadSession;
  /** Bytes of this blob the registry holds so far (a new attempt may start lower). */
  onProgress?: (bytes: number) => void;
  /** Bytes sent (every attempt counted). */
  onSent?: (bytes: number) => void;
}

const OCTETS = "application/octet-stream";

/** The session an upload is using, for cancelling it when the upload fails. */
interface OpenSession {
  session?: UploadSession;
}

export async function uploadBlob(upload: BlobUpload): Promise<void> {
  const opened: OpenSession = { session: upload.session };
  try {
    if (upload.descriptor.size > upload.chunkSize) await uploadChunked(upload, opened);
    else await uploadWhole(upload, opened);
  } catch (error) {
    if (opened.session) await cancelUpload(upload.target, opened.session, upload.descriptor.digest);
    throw error;
  }
}

function what(upload: BlobUpload): string {
  return `pushing blob ${upload.descriptor.digest} to ${upload.target.name}`;
}

/** One PUT with every byte; a failure starts again in a new session. */
async function uploadWhole(upload: BlobUpload, opened: OpenSession): Promise<void> {
  const { target, descriptor } = upload;
  let session = upload.session;
  await withRetries(target.client.policy, what(upload), async () => {
    const current = session ?? (await startUpload(target, descriptor.digest));
    session = undefined;
    opened.session = current;
    upload.onProgress?.(0);
    await target.client.attempt(
      {
        method: "PUT",
        path: withQuery(current, "digest", descriptor.digest),
        repository: target.repository,
        actions: PUSH_ACTIONS,
        headers: { "content-type": OCTETS, "content-length": String(descriptor.size) },
        body: () => counted(upload.open(descriptor), upload, 0),
        expect: [201],
        what: what(upload),
      },
      (response) => checkCommitted(response, upload),
    );
  });
}

/** PATCHes of `chunkSize`, resumed from the registry's offset after a failure, then the closing PUT. */
async function uploadChunked(upload: BlobUpload, opened: OpenSession): Promise<void> {
  const { target, descriptor } = upload;
  let session = upload.session;
  let offset = 0;
  let attempted = false;
  const source = new ChunkSource(upload.open, descriptor);
  try {
    await withRetries(
      target.client.policy,
      what(upload),
      async () => {
        if (session && attempted) {
          const reached = await uploadOffset(target, session, descriptor.digest);
          // A session gone after every byte was sent: its closing PUT may have landed, only the answer lost.
          if (!reached && (await blobExists(target, descriptor.digest))) return;
          session = reached?.session;
          offset = reached?.offset ?? 0;
        }
        if (!session) [session, offset] = [await startUpload(target, descriptor.digest), 0];
        opened.session = session;
        attempted = true;
        while (offset < descriptor.size) {
          const end = Math.min(offset + upload.chunkSize, descriptor.size);
          ({ session, offset } = await sendChunk(upload, source, session, offset, end));
          opened.session = session;
        }
        await source.checked();
        await closeUpload(upload, session);
      },
      resuming(upload),
    );
  } finally {
    source.close();
  }
}

/** The closing PUT of a chunked upload: the registry commits the blob. */
async function closeUpload(upload: BlobUpload, session: UploadSession): Promise<void> {
  const { target, descriptor } = upload;
  await target.client.attempt(
    {
      method: "PUT",
      path: withQuery(session, "digest", descriptor.digest),
      repository: target.repository,
      actions: PUSH_ACTIONS,
      headers: { "content-length": "0" },
      expect: [201],
      what: what(upload),
    },
    (response) => checkCommitted(response, upload),
  );
}

/**
 * The usual verdicts, told as resuming: the next attempt asks the registry
 * where to go on from. A 416 (the registry holds other bytes than thought) too.
 */
function resuming(upload: BlobUpload): Classifier {
  const { policy } = upload.target.client;
  return (error) => {
    if (error instanceof RegistryError && error.status === 416)
      return { retry: true, reason: error.message, delayMs: 0, action: "asking the registry", fail: () => error };
    const verdict = classifyFailure(error, what(upload), policy);
    return verdict && { ...verdict, action: "resuming where the registry got to" };
  };
}

async function sendChunk(
  upload: BlobUpload,
  source: ChunkSource,
  session: UploadSession,
  start: number,
  end: number,
): Promise<{ session: UploadSession; offset: number }> {
  const { target, descriptor } = upload;
  upload.onProgress?.(start);
  return target.client.attempt(
    {
      method: "PATCH",
      path: session.location,
      repository: target.repository,
      actions: PUSH_ACTIONS,
      headers: {
        "content-type": OCTETS,
        "content-length": String(end - start),
        "content-range": `${start}-${end - 1}`,
      },
      body: () => counted(source.body(start, end), upload, start),
      expect: [202],
      what: `${what(upload)} (bytes ${start}-${end - 1})`,
    },
    async (response) => {
      const range = headerValue(response.headers, "range");
      const next = await sessionOf(target, response);
      return { session: next, offset: range ? rangeEnd(range, descriptor.digest) : end };
    },
  );
}

async function checkCommitted(response: RegistryResponse, upload: BlobUpload): Promise<void> {
  const answered = headerValue(response.headers, "docker-content-digest");
  await readErrorBody(response.body, 0);
  const { digest } = upload.descriptor;
  if (answered && answered !== digest)
    throw new DigestMismatchError(
      `${what(upload)}: the registry stored it as ${answered}; the bytes sent were not the bytes it got`,
      { where: upload.target.name },
    );
}

/** The stream, counting what passes into the request (progress from `base`, bytes sent). */
function counted(source: Readable, upload: BlobUpload, base: number): Readable {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      upload.onSent?.(chunk.length);
      upload.onProgress?.(base + bytes);
      callback(null, chunk);
    },
  });
  source.on("error", (error) => counter.destroy(error));
  counter.on("close", () => source.destroy());
  return source.pipe(counter);
}
