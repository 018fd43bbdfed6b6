/** Running async jobs a few at a time. Imports nothing: any layer may use it. */

/** Runs at most `size` tasks at once; the others wait for a free place, in order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/**
 * Runs `jobs` with at most `limit` at once and returns their results in the
 * jobs' order. Once one fails no new job starts; it rejects with the first
 * failure after the running ones have settled.
 */
export async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const limiter = new Limiter(Math.max(1, limit));
  let failure: { error: unknown } | undefined;
  const results = await Promise.all(
    jobs.map((job) =>
      limiter.run(async () => {
        if (failure) return undefined;
        try {
          return await job();
        } catch (error) {
          failure ??= { error };
          return undefined;
        }
      }),
    ),
  );
  if (failure) throw failure.error;
  return results as T[];
}
