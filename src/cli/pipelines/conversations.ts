import { conversationBatchInputSchema, type ConversationBatchResult } from '../../shared/conversations/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { conversations } from '../../client/index.js';
import { InvalidInputError } from '../../client/errors.js';
import { decideOutcome, outcomeHeadline } from '../../shared/outcome.js';
import type { ConversationBatchProgress } from '../../workflows/conversations/conversation-batch.js';
import type { PipelineAdapter } from './adapter.js';

export const conversationsCli: PipelineAdapter<unknown, ConversationBatchResult, ConversationBatchProgress> = {
  name: 'conversations',
  noun: 'batch',
  validate(raw) {
    const parsed = conversationBatchInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`invalid conversation batch: ${describeIssues(parsed.error)}`);
    return {
      id: parsed.data.batchId,
      summary: `conversation batch ${parsed.data.batchId} (${parsed.data.source.kind} source)`,
      input: raw,
    };
  },
  start: (client, input, taskQueue) => conversations.start(client, input as never, { taskQueue }),
  get: (client, id) => conversations.get(client, id),
  progressLines: (p) => [
    `  page ${p.page}: ${p.completed} completed, ${p.failed} failed, ${p.running.length} running${p.running.length ? ` (${p.running.slice(0, 5).join(', ')})` : ''}`,
  ],
  // A batch reads its source page by page: the total is unknown until it runs dry.
  counts: (p) => ({ done: p.completed + p.failed, total: p.completed + p.failed + p.running.length + p.pendingRetry, failed: p.failed }),
  resultLines(r) {
    const outcome = r.outcome ?? decideOutcome(r.completed, r.failed);
    return [
      outcomeHeadline(outcome, r.completed, r.failed, 'items'),
      r.message,
      ...r.failedItems.map((f) => `  ${f.key}${f.step ? ` (${f.step})` : ''}: ${f.error}`),
    ];
  },
  outcome: (r) => (r.status === 'cancelled' ? 'cancelled' : (r.outcome ?? decideOutcome(r.completed, r.failed))),
};
