/**
 * The applier's file-system calls are synchronous (see apply-layer.ts), so a
 * long run of them never lets the event loop turn, and a SIGINT handler (which
 * aborts the signal) waits for the run to end. The pacer gives the loop a turn
 * every few milliseconds of such work and then checks the signal.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { AbortedError } from "../errors.js";

const TURN_EVERY_MS = 20;

export class EventLoopPacer {
  private last = performance.now();

  constructor(private readonly signal?: AbortSignal) {}

  /** Rejects with AbortedError once the signal is aborted; lets the loop turn when the time has come. */
  async pace(): Promise<void> {
    if (performance.now() - this.last >= TURN_EVERY_MS) {
      await nextTurn();
      this.last = performance.now();
    }
    if (this.signal?.aborted) throw new AbortedError();
  }
}
