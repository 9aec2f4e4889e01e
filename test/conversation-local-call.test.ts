import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { listAttempts } from '../src/db/conversations/attempts.js';
import type { ConversationDefinitionInput, ConversationRunResult } from '../src/shared/conversations/schemas.js';
import { localActivityType } from './support/local-activities.js';
import { startConversationStack, twoStepDefinition, type ConversationStack } from './support/conversations.js';
import { runUntilWorkerKilled, startSuccessor } from './support/conversation-worker.js';
import { waitFor } from './support/procs.js';
import { conversationRun } from '../src/workflows/index.js';

// Model calls local-first (the default of a worker process): a call the run's own worker can make
// (it serves the model and has a slot free) runs there as a local activity, with no task-queue
// dispatch and no workflow task per step. What Temporal gives a queued call — heartbeat timeout,
// step timeout, a record that the attempt happened — this path must give itself.

let stack: ConversationStack;
/** Runs whose histories are replayed at the end (and kept in test/histories with SHEPHERD_RECORD_HISTORIES=1). */
const replayable: { name: string; workflowId: string; history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> }[] = [];

beforeAll(async () => {
  stack = await startConversationStack({ localCalls: true, models: { local: { maxConcurrency: 4 }, narrow: { maxConcurrency: 3 } } });
});
afterAll(async () => stack?.stop());

function twoStep(model: string, defaults: Partial<ConversationDefinitionInput['defaults']> = {}): ConversationDefinitionInput {
  return twoStepDefinition(`local-${stack.suffix}-${randomUUID().slice(0, 4)}`, model, { defaults });
}

function run(definition: ConversationDefinitionInput, id: string) {
  return stack.worker.client.workflow.start(conversationRun, {
    taskQueue: stack.worker.taskQueue,
    workflowId: `conv-local-${randomUUID().slice(0, 8)}`,
    args: [{ definition, item: { id, topic: 'local calls' } }],
  });
}

async function historyOf(workflowId: string) {
  return (await stack.worker.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

const rowsOf = async (workflowId: string) =>
  (await listAttempts(stack.worker.pool, { workflowId })).map((r) => [r.step, r.attempt, r.status, r.error_type]);

describe('model calls made by the run’s own worker', () => {
  it('runs every call in the workflow’s worker: no queued activity, one workflow task, one audit row and one claim per call', async () => {
    const model = stack.model('local');
    stack.fake.setBehaviour(model, { reply: 'fine', chunkSize: 2 });
    const handle = await run(twoStep(model), 'l-1');
    const result = (await handle.result()) as ConversationRunResult;
    expect(result.path.map((p) => [p.step, p.attempts])).toEqual([
      ['ask', 1],
      ['summarise', 1],
    ]);
    const events = await historyOf(handle.workflowId);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    // Two calls, then the last step's row: the model check rode with the first call.
    expect(events.flatMap((e) => localActivityType(e) ?? [])).toEqual(['callModelHere', 'callModelHere', 'recordConversationAttempt']);
    expect(await rowsOf(handle.workflowId)).toEqual([
      ['ask', 1, 'completed', null],
      ['summarise', 1, 'completed', null],
    ]);
    const { rows: claims } = await stack.worker.pool.query(
      'SELECT step, attempt FROM conversation_model_calls WHERE run_id = $1 ORDER BY step',
      [(await handle.describe()).runId],
    );
    expect(claims).toEqual([
      { step: 'ask', attempt: 1 },
      { step: 'summarise', attempt: 1 },
    ]);
    expect(stack.fake.requests.filter((r) => r.model === model && r.outcome === 'done')).toHaveLength(2);
    replayable.push({ name: 'conversation-run-local-first-recorded', workflowId: handle.workflowId, history: await handle.fetchHistory() });
  });

  it('a model that stops streaming is given up after the heartbeat timeout; the retry succeeds and its late reply never reaches the log', async () => {
    const model = stack.model('local');
    stack.fake.setBehaviour(model, { reply: 'a reply in small pieces', chunkSize: 4, hang: { afterChunks: 2, times: 1 } });
    const handle = await run(twoStep(model), 'l-hang');
    const result = (await handle.result()) as ConversationRunResult;
    expect(result.path.map((p) => p.attempts)).toEqual([2, 1]);
    stack.fake.releaseHangs();
    await new Promise((r) => setTimeout(r, 300));
    expect(await rowsOf(handle.workflowId)).toEqual([
      ['ask', 1, 'timed_out', 'ModelStalled'],
      ['ask', 2, 'completed', null],
      ['summarise', 1, 'completed', null],
    ]);
    stack.fake.setBehaviour(model, {});
    replayable.push({
      name: 'conversation-run-local-first-stalled-recorded',
      workflowId: handle.workflowId,
      history: await handle.fetchHistory(),
    });
  });

  it('the step timeout ends a local call that streams on past it, as a timed-out attempt', async () => {
    const model = stack.model('local');
    // A chunk every 150 ms keeps the stall watchdog (1 s) quiet; 30 of them outlast the 2 s step timeout.
    stack.fake.setBehaviour(model, { reply: 'z'.repeat(30), chunkSize: 1, chunkDelayMs: 150 });
    try {
      const handle = await run(twoStep(model, { timeout: '2s', retry: { maximumAttempts: 1 } }), 'l-timeout');
      const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err.cause as Error).message).toContain(
        "step 'ask' failed after 1 attempt(s): step 'ask': attempt exceeded the step timeout of 2s",
      );
      expect(await rowsOf(handle.workflowId)).toEqual([['ask', 1, 'timed_out', 'START_TO_CLOSE']]);
      await waitFor(() => stack.fake.inFlight(model) === 0, 'the abandoned call closed');
    } finally {
      stack.fake.setBehaviour(model, {});
    }
  });

  it('the per-model limit counts local and queued calls together', async () => {
    const model = stack.model('narrow');
    stack.fake.setBehaviour(model, { reply: 'slow but steady', chunkSize: 3, chunkDelayMs: 40 });
    stack.fake.resetStats();
    const handles = await Promise.all(Array.from({ length: 8 }, (_, i) => run(twoStep(model), `l-limit-${i}`)));
    const results = (await Promise.all(handles.map((h) => h.result()))) as ConversationRunResult[];
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(stack.fake.maxInFlight(model)).toBeLessThanOrEqual(3);
    const histories = await Promise.all(handles.map((h) => historyOf(h.workflowId)));
    const queued = histories.flat().filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel').length;
    const { rows } = await stack.worker.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM conversation_model_calls WHERE run_id = ANY($1::text[])',
      [await Promise.all(handles.map(async (h) => (await h.describe()).runId))],
    );
    // 16 calls: made here while a slot was free, queued behind the limit otherwise.
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(rows[0]!.n + queued).toBe(16);
    stack.fake.setBehaviour(model, {});
  });

  it('a model no worker serves is refused by the first call’s check, before any attempt', async () => {
    const before = stack.fake.requests.length;
    const handle = await run(twoStep('llama-none:70b'), 'l-unknown');
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as { type?: string }).type).toBe('UnknownModel');
    expect((err.cause as Error).message).toContain('uses model(s) llama-none:70b that no worker serves');
    expect(stack.fake.requests.length).toBe(before);
    expect(await rowsOf(handle.workflowId)).toEqual([]);
  });

  it('cancelling a run reaches its call in flight when the workflow task is next renewed: the attempt is recorded as cancelled', async () => {
    const model = stack.model('local');
    stack.fake.setBehaviour(model, { reply: 'w'.repeat(400), chunkSize: 1, chunkDelayMs: 50 });
    try {
      const handle = await run(twoStep(model), 'l-cancel');
      await waitFor(() => stack.fake.inFlight(model) > 0, 'the call streaming');
      await handle.cancel();
      const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(await rowsOf(handle.workflowId)).toEqual([['ask', 1, 'cancelled', 'Cancelled']]);
      expect(stack.fake.requests.filter((r) => r.model === model).at(-1)!.outcome).toBe('aborted');
    } finally {
      stack.fake.setBehaviour(model, {});
    }
  });
});

describe('a worker that dies in the middle of a call it made itself', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('the replayed run finds the attempt claimed, records it as lost, and the next attempt completes', async () => {
    // The real worker entry point: model calls local-first, and a limit of 4 leaves slots free.
    const { handle, fake, registry, model, taskQueue } = await runUntilWorkerKilled({
      base: 'wide',
      maxConcurrency: 4,
      definition: (model, suffix) => ({ ...twoStep(model), name: `local-crash-${suffix}` }),
      cleanups,
    });
    fake.setBehaviour(model, { reply: 'fine', chunkSize: 2 });
    // A successor that queues every call: the claim is what tells it the attempt was made.
    const worker = await startSuccessor(taskQueue, registry, cleanups);

    const result = (await handle.result()) as ConversationRunResult;
    expect(result.path.map((p) => [p.step, p.attempts])).toEqual([
      ['ask', 2],
      ['summarise', 1],
    ]);
    const rows = await listAttempts(worker.pool, { workflowId: handle.workflowId });
    expect(rows.map((r) => [r.step, r.attempt, r.status, r.error_type])).toEqual([
      ['ask', 1, 'timed_out', 'AttemptLost'],
      ['ask', 2, 'completed', null],
      ['summarise', 1, 'completed', null],
    ]);
    expect(rows[0]!.error).toContain('attempt 1 was lost');
    expect(fake.requests.filter((r) => r.model === model)[0]!.outcome).toBe('aborted');
    replayable.push({
      name: 'conversation-run-local-first-lost-recorded',
      workflowId: handle.workflowId,
      history: await handle.fetchHistory(),
    });
  });
});

describe('histories of runs whose calls were made locally', () => {
  it('replay against the current workflow code', async () => {
    expect(replayable).toHaveLength(3);
    const histories = replayable.map(({ workflowId, history }) => ({ workflowId, history }));
    if (process.env.SHEPHERD_RECORD_HISTORIES === '1') {
      histories.forEach((h, i) => writeFileSync(path.resolve('test/histories', `${replayable[i]!.name}.json`), historyToJSON(h.history)));
    }
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  });
});
