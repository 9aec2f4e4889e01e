import type { Client } from '@temporalio/client';
import type { ConversationBatchInput, ConversationBatchResult } from '../../shared/conversations/schemas.js';
import type { ConversationBatchProgress } from '../../workflows/conversations/conversation-batch.js';
import {
  conversationBatchWorkflowId,
  retryFailedItems,
  startConversationBatch,
  type RetryFailedResult,
  type StartConversationBatchOptions,
} from '../conversations.js';
import { existingHandle, pipelineHandle, type PipelineHandle } from '../handle.js';
import { startOrExplain } from './start.js';

export type ConversationBatchHandle = PipelineHandle<ConversationBatchResult, ConversationBatchProgress> & {
  /** Re-runs failed items: signals an open batch, or starts a new batch over a closed one's failures. */
  retryFailed(keys?: string[]): Promise<RetryFailedResult>;
};

function withRetry(client: Client, h: PipelineHandle<ConversationBatchResult, ConversationBatchProgress>): ConversationBatchHandle {
  return { ...h, retryFailed: (keys?: string[]) => retryFailedItems(client, h.workflowId, { keys }) };
}

/** Validates input and definition (InvalidInputError naming the field), then starts the batch. */
export async function start(
  client: Client,
  input: ConversationBatchInput,
  opts: StartConversationBatchOptions = {},
): Promise<ConversationBatchHandle> {
  const workflow = await startOrExplain(conversationBatchWorkflowId(String(input.batchId)), () =>
    startConversationBatch(client, input, opts),
  );
  return withRetry(client, pipelineHandle(workflow, 'conversationProgress'));
}

export function get(client: Client, batchId: string): ConversationBatchHandle {
  return withRetry(client, existingHandle(client, conversationBatchWorkflowId(batchId), 'conversationProgress'));
}

export { conversationBatchWorkflowId as workflowId };
export type { ConversationBatchInput, ConversationBatchResult, ConversationBatchProgress, RetryFailedResult };
