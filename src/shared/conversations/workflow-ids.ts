// Workflow type names and IDs of the conversation pipeline: one execution per (batch, item key),
// so an item started twice (a retried page, a second batch driver) runs once.

export const CONVERSATION_BATCH = 'conversationBatch';
export const CONVERSATION_RUN = 'conversationRun';

export function conversationBatchWorkflowId(batchId: string): string {
  return `conversation-batch-${batchId}`;
}

export function conversationItemWorkflowId(batchId: string, itemKey: string): string {
  return `conversation-${batchId}-${itemKey}`;
}
