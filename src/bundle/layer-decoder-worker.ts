/**
 * The worker side of layer-decoder.ts: reads a layer blob, checks its size and
 * digest, decompresses it and checks its diff_id (readLayer), and posts the tar
 * in chunks to the main thread, never more than WINDOW bytes ahead of what the
 * main thread has taken.
 */
import { parentPort } from "node:worker_threads";
import { OciImageError, fileSystemErrorOf, type ErrorCode } from "../errors.js";
import type { Descriptor } from "../image/types.js";
import { readLayer } from "../layer/layer-reader.js";
import { BlobStore } from "../layout/blob-store.js";
import { GarbagePacer } from "../util/garbage-pacer.js";
import type { DecoderReply, DecoderRequest } from "./layer-decoder.js";

/** Enough to keep the main thread fed while this one inflates; each MiB here is a MiB of resident memory. */
const WINDOW = 4 * 1024 * 1024;
/**
 * zlib's output buffers die here once copied, and the copies' memory (freed by
 * the main thread) comes back to this thread's allocator: collected often, as
 * a full collection of this thread's small heap takes a few milliseconds (a
 * young-generation one would keep the buffers still queued, for good).
 */
const COLLECT_EVERY = 4 * 1024 * 1024;

const port = parentPort!;
/** The layer being decoded, and its bytes posted but not yet taken. */
let currentLayer = 0;
let outstanding = 0;
let resume: (() => void) | undefined;
const garbage = new GarbagePacer(COLLECT_EVERY);

port.on("message", (request: DecoderRequest) => {
  if (request.type === "taken") {
    // What the main thread took of an earlier layer no longer matters: that layer is over.
    if (request.layer !== currentLayer) return;
    outstanding -= request.bytes;
    if (outstanding < WINDOW && resume) {
      resume();
      resume = undefined;
    }
    return;
  }
  currentLayer = request.layer;
  outstanding = 0;
  decode(request.layout, request.descriptor, request.expectedDiffId, request.maxUncompressedBytes).then(
    (end) => post(end),
    (error: unknown) => post({ type: "error", ...describe(error) }),
  );
});

function post(reply: DecoderReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

async function decode(
  layout: string,
  descriptor: Descriptor,
  expectedDiffId: string | undefined,
  maxUncompressedBytes: number | undefined,
): Promise<DecoderReply> {
  const blob = await new BlobStore(layout).openBlob(descriptor);
  const layer = readLayer(blob, descriptor, { expectedDiffId, maxUncompressedBytes });
  for await (const chunk of layer.tar as AsyncIterable<Buffer>) {
    // A copy the main thread can own: zlib may still write into the chunk's buffer.
    const copy = new Uint8Array(chunk);
    outstanding += copy.length;
    garbage.count(copy.length);
    post({ type: "data", chunk: copy }, [copy.buffer]);
    if (outstanding >= WINDOW) await new Promise<void>((resolve) => (resume = resolve));
  }
  return { type: "end", diffId: layer.diffId(), size: layer.uncompressedSize() };
}

function describe(error: unknown): { code: ErrorCode; message: string; where?: string } {
  const known = error instanceof OciImageError ? error : fileSystemErrorOf(error);
  if (known) return { code: known.code, message: known.message, where: known.where };
  return {
    code: "LAYER_READ_FAILED",
    message: `reading a layer: ${(error as Error)?.message ?? String(error)}`,
  };
}
