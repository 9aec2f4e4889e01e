import { ApplicationFailure } from '@temporalio/common';

// One rule for how a batch-like pipeline ends, whatever its items are (experiments, parameter
// sets, conversation items). Decided here once; workflows, client, CLI and webhook all use it.
//
//   every item succeeded          → workflow COMPLETED, status/Stage `completed`
//   some failed, some succeeded   → workflow COMPLETED, status/Stage `completed_with_failures`
//   every item failed (n > 0)     → workflow FAILED (red in the Web UI), failure type
//                                   `AllItemsFailed`, the full result in the failure details;
//                                   every item's row is still recorded first
//   cancelled                     → workflow CANCELED, status/Stage `cancelled`
//
// Pure and bundle-safe: no node:* imports.

export type Outcome = 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';

/** The failure type of a batch whose every item failed; its details[0] is the batch result. */
export const ALL_ITEMS_FAILED = 'AllItemsFailed';

/** The patch guarding the "all failed ⇒ workflow failed" rule in workflows that predate it. */
export const ALL_FAILED_PATCH = 'all-items-failed-fails-workflow';

export function decideOutcome(succeeded: number, failed: number, cancelled = false): Outcome {
  if (cancelled) return 'cancelled';
  if (failed === 0) return 'completed';
  return succeeded === 0 ? 'failed' : 'completed_with_failures';
}

const LABEL: Record<Outcome, string> = {
  completed: 'COMPLETED',
  completed_with_failures: 'PARTLY FAILED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
};

/** "PARTLY FAILED: 1 of 3 experiments failed" — the first line of details, webhook titles and CLI. */
export function outcomeHeadline(outcome: Outcome, succeeded: number, failed: number, noun: string): string {
  const total = succeeded + failed;
  if (outcome === 'completed') return `${LABEL[outcome]}: all ${total} ${noun} succeeded`;
  if (outcome === 'cancelled') return `${LABEL[outcome]}: ${succeeded} succeeded, ${failed} failed before the cancellation`;
  return `${LABEL[outcome]}: ${failed} of ${total} ${noun} failed`;
}

export function outcomeLabel(outcome: Outcome): string {
  return LABEL[outcome];
}

/** The error a workflow throws when every item failed: red in the Web UI, the result kept in details. */
export function allItemsFailed(message: string, result: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type: ALL_ITEMS_FAILED, nonRetryable: true, details: [result] });
}
