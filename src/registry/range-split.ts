/**
 * When one stream of a large blob is worth splitting into parallel ranges: once
 * it has run long enough to measure, if the rest at the measured rate would take
 * longer than a few extra round trips cost. On loopback or a fast link the one
 * stream finishes first and is never split (there, more connections only cost:
 * each is another request, and bytes written ahead of the hashed prefix are read
 * back to hash them); over a long path one connection carries a fraction of the
 * link, and the rest of the blob goes to parallel ranges.
 */

/** Body time measured before deciding. */
export const SPLIT_MEASURE_MS = 100;
/** Split only when the rest would take longer than this at the measured rate. */
export const SPLIT_WORTH_MS = 500;

export interface StreamProgress {
  /** Bytes received since the first byte of the body. */
  bytes: number;
  /** Milliseconds since the first byte of the body. */
  elapsedMs: number;
  /** Bytes still to come. */
  remaining: number;
}

/** undefined: not yet measured long enough; else whether to split the rest. */
export function worthSplitting(progress: StreamProgress): boolean | undefined {
  if (progress.elapsedMs < SPLIT_MEASURE_MS) return undefined;
  if (progress.bytes <= 0) return true;
  const restMs = (progress.remaining / progress.bytes) * progress.elapsedMs;
  return restMs > SPLIT_WORTH_MS;
}
