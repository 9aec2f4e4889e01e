import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationBatchResult, ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { startConversationStack, type ConversationStack } from './support/conversations.js';

// Issue 12 item 9: starting the same conversation batch twice (the temporal CLI gives each start
// a fresh workflow ID) must not run its items again: item workflow IDs dedupe across starts.
let stack: ConversationStack;
beforeAll(async () => {
  stack = await startConversationStack({ models: { solo: { maxConcurrency: 2 } } });
});
afterAll(() => stack?.stop());

function oneStep(model: string): ConversationDefinitionInput {
  return {
    name: `dedupe-${stack.suffix}-${randomUUID().slice(0, 4)}`,
    item: { key: 'skill_id', fields: ['skill_id', 'skill_name'] },
    start: 'rate',
    defaults: {
      timeout: '20s',
      heartbeatTimeout: '2s',
      retry: { maximumAttempts: 2, initialInterval: '100ms', backoffCoefficient: 1, maximumInterval: '1s' },
    },
    steps: [
      {
        id: 'rate',
        actor: { kind: 'llm', model, prompt: 'Rate {{item.skill_name}}.' },
        output: { format: 'json', fields: { score: 'number' } },
        end: true,
      },
    ],
  };
}

describe('the same conversation batch started twice', () => {
  it('runs each item once; the second start reports them as already done', async () => {
    const model = stack.model('solo');
    stack.fake.setBehaviour(model, {});
    const batchId = `dedupe-${randomUUID().slice(0, 8)}`;
    const items = [1, 2, 3].map((i) => ({ skill_id: String(i), skill_name: `skill ${i}` }));
    const input = { batchId, definition: oneStep(model), source: { kind: 'items' as const, items }, notify: false };
    const start = () =>
      stack.worker.client.workflow.start('conversationBatch', {
        taskQueue: stack.worker.taskQueue,
        workflowId: `adhoc-${randomUUID()}`,
        args: [input],
      });

    const first = (await (await start()).result()) as ConversationBatchResult;
    expect(first).toMatchObject({ completed: 3, failed: 0 });
    const calls = stack.fake.requests.length;

    const second = (await (await start()).result()) as ConversationBatchResult;
    expect(second).toMatchObject({ completed: 0, failed: 0, alreadyDone: 3 });
    expect(stack.fake.requests.length).toBe(calls); // no model call again
  });
});
