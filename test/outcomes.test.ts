import { randomUUID } from 'node:crypto';
import { STAGE } from '../src/shared/search-attributes.js';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { startConversationBatch } from '../src/client/conversations.js';
import { batchResult } from '../src/client/outcome.js';
import type { ConversationBatchResult, ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import type { SimulationJobResult } from '../src/shared/simulation/schemas.js';
import { ALL_ITEMS_FAILED } from '../src/shared/outcome.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// The shared outcome rule (src/shared/outcome.ts), end to end for every batch-like pipeline:
// all failed → FAILED workflow with the summary in its failure details and rows still recorded;
// partly failed → COMPLETED, but Stage, current details and webhook say "partly failed".

const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
let w: TestWorker;
let hook: WebhookReceiver;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  w = await startTestWorker({ deps: { webhookUrl: hook.url } });
});
afterAll(async () => {
  await w?.stop();
  await hook?.close();
});

async function allFailedError(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(ALL_ITEMS_FAILED);
  return cause as ApplicationFailure;
}

async function closedState(handle: WorkflowHandle) {
  const desc = await handle.describe();
  const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return { status: desc.status.name, stage: desc.typedSearchAttributes.get(STAGE), details: meta.currentDetails ?? '' };
}

describe('experimentBatch outcomes', () => {
  it('a batch whose every experiment failed is a FAILED workflow, summary in the details, rows recorded', async () => {
    const id = uid('allfail');
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId: id,
        notify: true,
        retry: { maximumAttempts: 1 },
        experiments: [nodeExperiment('a', `console.error('disk on fire'); process.exit(3)`), nodeExperiment('b', `process.exit(4)`)],
      },
      { taskQueue: w.taskQueue },
    );
    const failure = await allFailedError(handle);
    expect(failure.message).toBe(`batch ${id}: FAILED: 2 of 2 experiments failed`);
    const summary = failure.details?.[0] as ExperimentBatchResult;
    expect(summary).toMatchObject({ batchId: id, status: 'failed', succeeded: 0, failed: 2 });
    expect(summary.experiments.find((e) => e.name === 'a')?.error).toContain('disk on fire');
    // The client reads it back as the batch's result.
    expect((await batchResult<ExperimentBatchResult>(handle)).failed).toBe(2);

    const state = await closedState(handle);
    expect(state.status).toBe('FAILED');
    expect(state.stage).toEqual('failed');
    expect(state.details).toContain('FAILED: 2 of 2 experiments failed');

    const { rows } = await w.pool.query('SELECT experiment, status FROM experiment_results WHERE batch_id = $1 ORDER BY experiment', [id]);
    expect(rows).toEqual([
      { experiment: 'a', status: 'failed' },
      { experiment: 'b', status: 'failed' },
    ]);
    const { rows: batch } = await w.pool.query('SELECT status FROM batches WHERE batch_id = $1', [id]);
    expect(batch[0].status).toBe('failed');
    const sent = hook.received.find((r) => JSON.stringify(r.body).includes(id));
    expect(sent?.body.blocks[0].text.text).toBe(`Batch ${id}: FAILED: 2 of 2 experiments failed`);
  });

  it('a partly failed batch completes, and Stage, details and webhook say partly failed', async () => {
    const id = uid('partly');
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId: id,
        notify: true,
        retry: { maximumAttempts: 1 },
        experiments: [nodeExperiment('ok', `done({ accuracy: 1 })`), nodeExperiment('bad', `process.exit(3)`)],
      },
      { taskQueue: w.taskQueue },
    );
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result).toMatchObject({ status: 'completed_with_failures', succeeded: 1, failed: 1 });
    const state = await closedState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.stage).toEqual('completed_with_failures');
    expect(state.details).toContain('PARTLY FAILED: 1 of 2 experiments failed');
    const sent = hook.received.find((r) => JSON.stringify(r.body).includes(id));
    expect(sent?.body.blocks[0].text.text).toBe(`Batch ${id}: PARTLY FAILED: 1 of 2 experiments failed`);
  });
});

describe('simulationJob outcomes', () => {
  it('a job whose every parameter set failed is a FAILED workflow; a partly failed one is marked', async () => {
    const script = writeReplicateScript();
    const allFailed = shJob(script, {
      jobId: uid('sim-allfail'),
      parameters: [{ values: { mode: 'import-error' } }, { values: { mode: 'no-result' } }],
      replicates: 2,
      replicateRetry: { maximumAttempts: 1 },
    });
    const partly = shJob(script, {
      jobId: uid('sim-partly'),
      parameters: [{ values: { mode: 'ok' } }, { values: { mode: 'import-error' } }],
      replicates: 2,
      replicateRetry: { maximumAttempts: 1 },
    });
    const [h1, h2] = await Promise.all([startSimulation(w.client, w.taskQueue, allFailed), startSimulation(w.client, w.taskQueue, partly)]);

    const failure = await allFailedError(h1);
    expect(failure.message).toBe(`simulation job ${allFailed.jobId}: FAILED: 2 of 2 parameter sets failed`);
    const summary = failure.details?.[0] as SimulationJobResult;
    expect(summary.parameters.map((p) => p.status)).toEqual(['failed', 'failed']);
    expect(summary.parameters[0].error).toMatch(/ImportError/);
    const s1 = await closedState(h1);
    expect(s1).toMatchObject({ status: 'FAILED', stage: 'failed' });
    expect(s1.details).toContain('FAILED: 2 of 2 parameter sets failed');
    const { rows } = await w.pool.query('SELECT status FROM simulation_jobs WHERE job_id = $1', [allFailed.jobId]);
    expect(rows[0].status).toBe('failed');
    const { rows: reps } = await w.pool.query(
      `SELECT count(*)::int AS n FROM simulation_replicates WHERE job_id = $1 AND status = 'failed'`,
      [allFailed.jobId],
    );
    expect(reps[0].n).toBeGreaterThan(0);

    const result = (await h2.result()) as SimulationJobResult;
    expect(result.status).toBe('completed_with_failures');
    const s2 = await closedState(h2);
    expect(s2).toMatchObject({ status: 'COMPLETED', stage: 'completed_with_failures' });
    expect(s2.details).toContain('PARTLY FAILED: 1 of 2 parameter sets failed');
  });
});

describe('conversationBatch outcomes', () => {
  const def = (name: string): ConversationDefinitionInput => ({
    name,
    item: { key: 'id', fields: ['id'] },
    start: 'score',
    defaults: {
      timeout: '20s',
      heartbeatTimeout: '10s',
      retry: { maximumAttempts: 1, initialInterval: '100ms', backoffCoefficient: 1, maximumInterval: '1s' },
    },
    steps: [
      {
        id: 'score',
        // Items whose id starts with "bad" exit 3; the rest write a score.
        actor: {
          kind: 'script',
          command: process.execPath,
          args: [
            '-e',
            `if ('{{item.id}}'.startsWith('bad')) { console.error('no score for {{item.id}}'); process.exit(3); } require('node:fs').writeFileSync(process.env.SHEPHERD_RESULT_FILE, '{"score": 1}')`,
          ],
        },
        output: { format: 'json', fields: { score: 'number' } },
        end: true,
      },
    ],
  });

  it('all items failed → FAILED workflow with the summary; some failed → Stage completed_with_failures', async () => {
    const allId = uid('conv-allfail');
    const partlyId = uid('conv-partly');
    const [h1, h2] = await Promise.all([
      startConversationBatch(
        w.client,
        { batchId: allId, definition: def(uid('d')), source: { kind: 'items', items: [{ id: 'bad-1' }, { id: 'bad-2' }] }, notify: true },
        { taskQueue: w.taskQueue },
      ),
      startConversationBatch(
        w.client,
        { batchId: partlyId, definition: def(uid('d')), source: { kind: 'items', items: [{ id: 'good-1' }, { id: 'bad-1' }] } },
        { taskQueue: w.taskQueue },
      ),
    ]);
    const failure = await allFailedError(h1);
    expect(failure.message).toBe(`conversation batch ${allId}: FAILED: 2 of 2 items failed`);
    const summary = failure.details?.[0] as ConversationBatchResult;
    expect(summary).toMatchObject({ completed: 0, failed: 2, outcome: 'failed' });
    expect(summary.failedItems.map((f) => f.error).join('\n')).toContain('no score for bad-1');
    const s1 = await closedState(h1);
    expect(s1).toMatchObject({ status: 'FAILED', stage: 'failed' });
    const { rows } = await w.pool.query(`SELECT count(*)::int AS n FROM conversation_attempts WHERE batch_id = $1 AND status = 'failed'`, [
      allId,
    ]);
    expect(rows[0].n).toBe(2);
    const sent = hook.received.find((r) => JSON.stringify(r.body).includes(allId));
    expect(sent?.body.blocks[0].text.text).toContain('FAILED: 2 of 2 items failed');

    const result = (await h2.result()) as ConversationBatchResult;
    expect(result).toMatchObject({ status: 'source_exhausted', completed: 1, failed: 1, outcome: 'completed_with_failures' });
    const s2 = await closedState(h2);
    expect(s2).toMatchObject({ status: 'COMPLETED', stage: 'completed_with_failures' });
    expect(s2.details).toContain('PARTLY FAILED: 1 of 2 items failed');
  });
});
