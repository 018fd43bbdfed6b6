/** Runs async jobs with at most `concurrency` at once; rejects with the first failure once all have settled. */
export async function runPool(jobs: readonly (() => Promise<void>)[], concurrency: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < jobs.length && !failure) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, worker));
  if (failure) throw failure.error;
}
