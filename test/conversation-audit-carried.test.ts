import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { listAttempts } from '../src/db/conversations/attempts.js';
import { announceModels } from '../src/db/model-slots.js';
import type { ModelCallInput, ModelCallResult } from '../src/activities/conversations/llm.js';
import { AUDIT_NOT_RECORDED, modelTaskQueue, type ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { localActivityType } from './support/local-activities.js';
import { startConversationStack, type ConversationStack } from './support/conversations.js';
import { conversationRun } from '../src/workflows/index.js';

// A completed attempt's audit row is carried by the run's next model call, which writes it before
// calling the model; whatever no call confirms, the workflow writes itself. Real dev server,
// PostgreSQL, Shepherd and model workers; the last two tests put a model worker of their own on a
// model's queue, to be the worker that cannot write the rows or that predates carrying them.

let stack: ConversationStack;

beforeAll(async () => {
  stack = await startConversationStack({ models: { fast: { maxConcurrency: 2 } } });
});
afterAll(async () => stack?.stop());

function twoStep(model: string): ConversationDefinitionInput {
  return {
    name: `carried-${stack.suffix}-${randomUUID().slice(0, 4)}`,
    item: { key: 'id', fields: ['id'] },
    start: 'ask',
    defaults: { timeout: '20s', heartbeatTimeout: '5s', retry: { maximumAttempts: 2, initialInterval: '100ms' } },
    steps: [
      { id: 'ask', actor: { kind: 'llm', model, prompt: 'Tell me about {{item.id}}.' }, next: 'summarise' },
      { id: 'summarise', actor: { kind: 'llm', model, prompt: 'Summarise: {{steps.ask.text}}' }, end: true },
    ],
  };
}

async function runToEnd(model: string) {
  const workflowId = `carried-${randomUUID().slice(0, 8)}`;
  await stack.worker.client.workflow.execute(conversationRun, {
    taskQueue: stack.worker.taskQueue,
    workflowId,
    args: [{ definition: twoStep(model), item: { id: workflowId } }],
  });
  const rows = await listAttempts(stack.worker.pool, { workflowId });
  return { workflowId, rows: rows.map((r) => [r.step, r.attempt, r.status]) };
}

const BOTH_COMPLETED = [
  ['ask', 1, 'completed'],
  ['summarise', 1, 'completed'],
];

/**
 * Runs one item on a model served by a model worker of the test's own; `answer` decides what each
 * call does. The run's audit rows, and how many rows each call carried.
 */
async function runOnOwnModelWorker(base: string, answer: (input: ModelCallInput) => ModelCallResult) {
  const model = `${base}-${stack.suffix}`;
  const registry = {
    models: { [model]: { provider: 'ollama' as const, baseUrl: stack.fake.url, maxConcurrency: 1, jsonMode: 'schema' as const } },
  };
  await announceModels(stack.worker.pool, registry, 'test');
  const carried: number[] = [];
  const callModel = async (input: ModelCallInput) => {
    carried.push(input.audit?.length ?? 0);
    return answer(input);
  };
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({ connection, taskQueue: modelTaskQueue(stack.worker.taskQueue, model), activities: { callModel } });
  const running = worker.run();
  try {
    return { ...(await runToEnd(model)), carried };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}

const reply = (): ModelCallResult => ({ output: { text: 'ok' }, text: 'ok', latencyMs: 1, chunks: 1, provider: 'ollama' });

describe('audit rows carried by the next model call', () => {
  it("the next model call writes the previous attempt's row: no local activity between two model calls", async () => {
    const { workflowId, rows } = await runToEnd(stack.model('fast'));
    expect(rows).toEqual(BOTH_COMPLETED);
    const events = (await stack.worker.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const firstDone = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    const nextScheduled = events.findIndex((e, i) => i > firstDone && e.activityTaskScheduledEventAttributes);
    expect(firstDone).toBeGreaterThan(0);
    expect(nextScheduled).toBeGreaterThan(firstDone);
    // Before carrying, the row of 'ask' was a local activity here, recorded as a marker. (The
    // call is first offered to this worker, which serves no model here: that marker is the offer.)
    const localActivities = events.slice(firstDone, nextScheduled).flatMap((e) => localActivityType(e) ?? []);
    expect(localActivities).toEqual(['callModelHere']);
  });

  it('rows a model call could not write are written by the workflow, and the same attempt is made without them', async () => {
    const { rows, carried } = await runOnOwnModelWorker('refusing', (input) => {
      if (input.audit?.length) throw ApplicationFailure.create({ type: AUDIT_NOT_RECORDED, nonRetryable: true, message: 'database away' });
      return reply();
    });
    // One attempt per step: the refused call was not an attempt, and left no row of its own.
    expect(rows).toEqual(BOTH_COMPLETED);
    expect(carried).toEqual([0, 1, 0]);
  });

  it('a model worker that predates carried rows ignores them: the workflow writes them before the run ends', async () => {
    const { rows, carried } = await runOnOwnModelWorker('legacy', () => reply()); // no auditRecorded: nothing confirmed
    expect(rows).toEqual(BOTH_COMPLETED);
    expect(carried).toEqual([0, 1]);
  });
});
