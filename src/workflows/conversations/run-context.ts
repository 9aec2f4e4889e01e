import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { AttemptRecord } from '../../activities/conversations/audit.js';
import type { Item } from '../../shared/conversations/schemas.js';

// What one conversationRun carries from step to step, and the audit rows it still owes.

// Audit rows are small, local writes: a local activity avoids a server round trip per attempt.
// They retry until the database answers; an attempt is not "done" until it is recorded.
export const { recordConversationAttempt } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumInterval: '30s' },
});

export interface RunContext {
  item: Item;
  itemKey: string;
  batchId?: string;
  workflowId: string;
  runId: string;
  definition: string;
  /** Completed attempts' rows not yet known to be in the audit log, oldest first. */
  unrecorded: AttemptRecord[];
  /** The definition's models, while the run has yet to check that a worker serves them. */
  modelsToCheck?: string[];
}

/** Writes the rows no model call has confirmed, in order (the unique key makes a repeat a no-op). */
export async function recordUnrecorded(rc: RunContext): Promise<void> {
  while (rc.unrecorded.length > 0) {
    await recordConversationAttempt(rc.unrecorded[0]!);
    rc.unrecorded.shift();
  }
}
