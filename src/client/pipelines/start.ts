import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { AlreadyRunningError, InvalidInputError } from '../errors.js';

/**
 * Runs a starter and turns its "already running" and validation errors into the package's
 * error classes (older starters throw plain Errors with the same messages).
 */
export async function startOrExplain<T>(workflowId: string, starter: () => Promise<T>): Promise<T> {
  try {
    return await starter();
  } catch (err) {
    if (err instanceof InvalidInputError || err instanceof AlreadyRunningError) throw err;
    const message = (err as Error)?.message ?? String(err);
    if (err instanceof WorkflowExecutionAlreadyStartedError || /already running/.test(message))
      throw new AlreadyRunningError(message, workflowId);
    if (/^invalid /.test(message)) throw new InvalidInputError(message, { cause: err });
    throw err;
  }
}
