import { proxyActivities } from '@temporalio/workflow';

type AnyActivity = (arg: unknown) => Promise<unknown>;

/**
 * Runs `n` sequential calls of one activity: the per-step cost shows in the history timestamps.
 * With `activityTaskQueue` the activity runs on that queue, so it is dispatched through matching
 * (no eager execution), as a conversation's model call is.
 */
export async function benchSequence(activity: string, n: number, arg: unknown, activityTaskQueue?: string): Promise<void> {
  const acts = proxyActivities<Record<string, AnyActivity>>({
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 1 },
    ...(activityTaskQueue ? { taskQueue: activityTaskQueue } : {}),
  });
  for (let i = 0; i < n; i++) await acts[activity](arg);
}

/** Runs `n` calls with up to `parallel` in flight, for throughput. */
export async function benchParallel(activity: string, n: number, parallel: number, arg: unknown): Promise<void> {
  const acts = proxyActivities<Record<string, AnyActivity>>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 1 } });
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      await acts[activity](arg);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}
