import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Re-queue the batch's failed items (all, or the given keys) while it is still open. */
export const retryFailedSignal = defineSignal<[{ keys?: string[] }?]>('retryFailed');

export interface ConversationBatchProgress {
  batchId: string;
  page: number;
  completed: number;
  failed: number;
  running: string[];
  pendingRetry: number;
}
/** The batch's progress under the name every pipeline answers: `progress`. */
export const conversationBatchProgressQuery = defineQuery<ConversationBatchProgress>('progress');
/** The same answer under the name it first had; kept because external callers may use it. */
export const legacyConversationProgressQuery = defineQuery<ConversationBatchProgress>('conversationProgress');
