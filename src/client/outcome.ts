import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ALL_ITEMS_FAILED } from '../shared/outcome.js';

/**
 * A batch's result however it ended by the shared outcome rule: a batch whose every item failed
 * closes as a FAILED workflow carrying its result in the failure details; this returns that
 * result like any other. Cancellations and every other failure are rethrown.
 */
export async function batchResult<R>(handle: Pick<WorkflowHandle, 'result'>): Promise<R> {
  try {
    return (await handle.result()) as R;
  } catch (err) {
    const summary = allFailedSummary<R>(err);
    if (summary !== undefined) return summary;
    throw err;
  }
}

/** The batch result inside an AllItemsFailed workflow failure, or undefined for any other error. */
export function allFailedSummary<R>(err: unknown): R | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type === ALL_ITEMS_FAILED) return cause.details?.[0] as R;
  return undefined;
}
