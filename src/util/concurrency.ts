/** Running async jobs a few at a time. Imports nothing: any layer may use it. */

/**
 * Runs `jobs` with at most `limit` at once and returns their results in the
 * jobs' order. Once one fails no new job starts; it rejects with the first
 * failure after the running ones have settled.
 */
export async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < jobs.length && !failure) {
      const index = next++;
      try {
        results[index] = await jobs[index]!();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
