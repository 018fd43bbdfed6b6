/** Speed over the last few seconds (not since the start), and the time left at that speed. */

const WINDOW_MS = 5000;
const SAMPLE_MS = 100;

export class RateMeter {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the running total of bytes done. */
  record(bytes: number): void {
    const at = this.now();
    // Samples at least 100 ms apart: a fast transfer reports every chunk.
    const [before, last] = this.samples.slice(-2);
    if (before && last && at - before.at < SAMPLE_MS) Object.assign(last, { at, bytes });
    else this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[1]!.at > WINDOW_MS) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until there are two samples some time apart. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last) return 0;
    const elapsed = Math.max(this.now(), last.at) - first.at;
    return elapsed < 200 ? 0 : ((last.bytes - first.bytes) * 1000) / elapsed;
  }

  /** Seconds until `remaining` bytes are done at the current rate; undefined while the rate is unknown. */
  secondsLeft(remaining: number): number | undefined {
    const rate = this.rate();
    return rate > 0 ? remaining / rate : undefined;
  }
}
