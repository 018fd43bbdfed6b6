/**
 * A Buffer's memory goes back only when V8 collects the Buffer, and V8 starts
 * a full collection for such (external) memory only once about 64 MiB of it
 * piled up since the last one. A thread that streams short-lived buffers and
 * makes few objects of its own (the layer decoder; the applier writing a large
 * file) so holds up to 64 MiB of dead buffers, per thread, and the allocator
 * keeps the pages afterwards. Collecting every so many bytes bounds that; a
 * full collection of these small heaps takes a few milliseconds.
 */
import { createRequire } from "node:module";

/** `gc()`: a full, precise collection (with options it may keep what the stack seems to point at). */
type Collect = () => void;

/** Undefined: not looked up yet; null: not available (the process goes on without it). */
let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect === undefined) {
    try {
      // Required here, not imported: loading node:v8 costs a run milliseconds, and most runs never collect.
      const require = createRequire(import.meta.url);
      const { setFlagsFromString } = require("node:v8") as typeof import("node:v8");
      const { runInNewContext } = require("node:vm") as typeof import("node:vm");
      // V8 hands `gc` only to contexts made while the flag is on; it goes off again at once.
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as Collect;
      setFlagsFromString("--no-expose-gc");
    } catch {
      collect = null;
    }
  }
  return collect;
}

export class GarbagePacer {
  private since = 0;

  constructor(private readonly everyBytes: number) {}

  /** `bytes` more went through; collects once `everyBytes` did since the last collection. */
  count(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    collector()?.();
  }
}
