import { durationToMs } from './durations.js';

/** What backoff needs of a retry policy (RetryConfig and the conversation step policy both have it). */
export interface BackoffPolicy {
  initialInterval: string | number;
  backoffCoefficient: number;
  maximumInterval: string | number;
}

/** Delay before retry number `failedAttempt` (1 = after the first failure), as Temporal computes it. */
export function backoffMs(retry: BackoffPolicy, failedAttempt: number): number {
  const base = durationToMs(retry.initialInterval) * retry.backoffCoefficient ** (failedAttempt - 1);
  return Math.min(base, durationToMs(retry.maximumInterval));
}
