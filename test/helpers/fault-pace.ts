/** The fault proxy's pacing: an answer's body at a fixed rate, as one connection over a long path carries it. */
import { Transform } from "node:stream";

export interface Pace {
  /** Matched against the request path; GET answers with a body are paced. */
  path: RegExp;
  bytesPerSecond: number;
}

/** Passes each chunk on no sooner than the rate allows since the first one. */
export function pacer(bytesPerSecond: number): Transform {
  let started: number | undefined;
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      started ??= Date.now();
      passed += chunk.length;
      const due = started + (passed / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}
