import { readFile } from 'node:fs/promises';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  conversationBatchInputSchema,
  type ConversationBatch,
  type ConversationBatchInput,
  type ConversationBatchResult,
} from '../shared/conversations/schemas.js';
import { parseDefinitionText } from '../config/input-file.js';
import { describeIssues } from '../shared/schemas.js';
import { assertValidDefinition } from '../shared/conversations/definition-validator.js';
import { conversationBatchProgressQuery, retryFailedSignal, type ConversationBatchProgress } from '../shared/conversations/messages.js';
import { CONVERSATION_BATCH, conversationBatchWorkflowId } from '../shared/conversations/workflow-ids.js';
import { PIPELINE_ID, PIPELINE_KIND, TARGET } from '../shared/search-attributes.js';
import type { conversationBatch } from '../workflows/conversations/conversation-batch.js';

// Typed starters for conversation batches, for the CLI and other services.

export { CONVERSATION_BATCH, conversationBatchWorkflowId };

export interface StartConversationBatchOptions {
  taskQueue?: string;
  /** Root for definitionFile when validating at the edge (default cwd). */
  projectDir?: string;
}

/**
 * Validates the input and the definition (statically, unwired steps and all) before starting, so
 * the caller sees the problem at once; the workflow validates again, for starts from elsewhere.
 */
export async function startConversationBatch(
  client: Client,
  input: ConversationBatchInput,
  opts: StartConversationBatchOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof conversationBatch>> {
  const parsed = conversationBatchInputSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid conversation batch: ${describeIssues(parsed.error)}`);
  const file = parsed.data.definitionFile;
  const raw = parsed.data.definition ?? parseDefinitionText(await readFile(`${opts.projectDir ?? process.cwd()}/${file}`, 'utf8'), file!);
  const def = assertValidDefinition(raw);
  const workflowId = conversationBatchWorkflowId(parsed.data.batchId);
  try {
    return await client.workflow.start<typeof conversationBatch>(CONVERSATION_BATCH, {
      workflowId,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      typedSearchAttributes: [
        { key: PIPELINE_KIND, value: CONVERSATION_BATCH },
        { key: PIPELINE_ID, value: parsed.data.batchId },
        { key: TARGET, value: def.name },
      ],
      staticSummary: `conversation batch ${parsed.data.batchId} (${def.name}, ${parsed.data.source.kind} source)`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(`conversation batch ${parsed.data.batchId} is already running (workflow ${workflowId})`, { cause: err });
    throw err;
  }
}

export async function conversationProgress(handle: WorkflowHandle): Promise<ConversationBatchProgress> {
  return handle.query(conversationBatchProgressQuery);
}

/** The input the batch's latest run started with (after continue-as-new it carries the loaded definition). */
export async function latestInput(handle: WorkflowHandle): Promise<ConversationBatch> {
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  if (!payload) throw new Error(`workflow ${handle.workflowId} has no input in its history`);
  return defaultPayloadConverter.fromPayload(payload) as ConversationBatch;
}

export interface RetryFailedResult {
  /** 'signalled': the batch was still open and re-queued its failed items; 'started': a new batch runs them. */
  mode: 'signalled' | 'started';
  workflowId: string;
  items?: number;
}

/**
 * "Retry the failed items" in one call. A batch still open (running, or holding for retries)
 * gets the retryFailed signal; a closed one is followed by a new batch over exactly its failed
 * items, with the same definition. Failed attempts stay in the audit log either way.
 */
export async function retryFailedItems(
  client: Client,
  batchWorkflowId: string,
  opts: { keys?: string[]; taskQueue?: string } = {},
): Promise<RetryFailedResult> {
  const handle = client.workflow.getHandle(batchWorkflowId);
  const desc = await handle.describe();
  if (desc.status.name === 'RUNNING') {
    await handle.signal(retryFailedSignal, { keys: opts.keys });
    return { mode: 'signalled', workflowId: batchWorkflowId };
  }
  if (desc.status.name !== 'COMPLETED')
    throw new Error(`batch ${batchWorkflowId} is ${desc.status.name}; only open or completed batches can retry failed items`);
  const result = (await handle.result()) as ConversationBatchResult;
  const items = result.failedItems.filter((f) => f.step !== 'source' && (!opts.keys || opts.keys.includes(f.key))).map((f) => f.item);
  if (items.length === 0) throw new Error(`batch ${result.batchId} has no failed items to retry`);
  const input = await latestInput(handle);
  const batchId = `${result.batchId}-retry-${Date.now().toString(36)}`;
  const started = await startConversationBatch(
    client,
    {
      batchId,
      definition: input.definition,
      source: { kind: 'items', items },
      concurrency: input.concurrency,
      pageSize: input.pageSize,
      notify: input.notify,
    },
    { taskQueue: opts.taskQueue ?? desc.taskQueue },
  );
  return { mode: 'started', workflowId: started.workflowId, items: items.length };
}
