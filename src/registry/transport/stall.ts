/**
 * The throughput floor: undici's body timeout catches a silent connection, not
 * one that trickles a byte a second. Reading a body through `guardedChunks`, a
 * window of the timeout's length that brings fewer than 1 KiB per second is a
 * stall, failed with a network error code that the retry step retries. Only
 * time spent waiting for the network counts, never time the reader spends on
 * the data.
 */
import { performance } from "node:perf_hooks";

export const STALL_CODE = "OCI_TRANSFER_STALLED";
/** Bytes per second below which a transfer counts as stalled. */
export const FLOOR_BYTES_PER_SECOND = 1024;

export interface Body extends AsyncIterable<Buffer> {
  destroy(error?: Error): unknown;
}

export function stalledError(bytes: number, windowMs: number): Error {
  const error = new Error(`${bytes} bytes in ${windowMs / 1000} s`);
  return Object.assign(error, { code: STALL_CODE, bytes, windowMs });
}

/** The chunks of `body`, failing with a stall error when a window brings less than the floor. */
export async function* guardedChunks(body: Body, timeoutMs: number): AsyncGenerator<Buffer> {
  const floor = (FLOOR_BYTES_PER_SECOND * timeoutMs) / 1000;
  const iterator = body[Symbol.asyncIterator]();
  let waited = 0;
  let bytes = 0;
  try {
    for (;;) {
      const started = performance.now();
      const budget = Math.max(1, timeoutMs - waited);
      const timer = setTimeout(() => {
        if (bytes < floor) body.destroy(stalledError(bytes, timeoutMs));
      }, budget);
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      waited += performance.now() - started;
      bytes += next.value.length;
      if (waited >= timeoutMs) {
        if (bytes < floor) throw stalledError(bytes, timeoutMs);
        waited = 0;
        bytes = 0;
      }
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
