import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentBatchResult } from '../src/shared/experiments/schemas.js';
import type { SimulationJobProgress } from '../src/shared/simulation/messages.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { startWithTemporalCli } from './support/temporal-cli.js';
import { waitFor } from './support/procs.js';

// The README's promise: every example file starts as written with
// `temporal workflow start --type <type> --task-queue shepherd --input-file examples/<pipeline>/<file>.json`
// (here on the test worker's queue), and the Web UI's "current details" show its progress.

let w: TestWorker;

beforeAll(async () => {
  w = await startTestWorker({ maxConcurrentActivityTaskExecutions: 10 });
});
afterAll(() => w?.stop());

async function startFromCli(type: string, file: string): Promise<string> {
  const workflowId = `cli-example-${type}-${randomUUID().slice(0, 8)}`;
  await startWithTemporalCli({ type, taskQueue: w.taskQueue, workflowId, args: ['--input-file', file] });
  return workflowId;
}

/** What the Web UI shows as the workflow's current details. */
async function currentDetails(workflowId: string): Promise<string> {
  const meta = await w.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

describe('example inputs started from the temporal CLI', () => {
  it('examples/experiments/iris-batch.json runs every classifier to a real accuracy', async () => {
    const workflowId = await startFromCli('experimentBatch', 'examples/experiments/iris-batch.json');
    const result = (await w.client.workflow.getHandle(workflowId).result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
    expect(result.experiments.length).toBeGreaterThanOrEqual(3);
    for (const e of result.experiments) expect(e.metrics?.accuracy, e.name).toBeGreaterThan(0.8);
    const { rows } = await w.pool.query(
      `SELECT count(*)::int AS n FROM experiment_results WHERE batch_id = 'iris-baseline' AND status = 'succeeded'`,
    );
    expect(rows[0].n).toBe(result.experiments.length);
    const details = await currentDetails(workflowId);
    expect(details).toContain('**Batch iris-baseline**');
    expect(details).toMatch(/knn-k5: done, accuracy (1|0\.\d+)\n/);
  });

  it('examples/experiments/broken-batch.json fails at once, naming the bad fields', async () => {
    const workflowId = await startFromCli('experimentBatch', 'examples/experiments/broken-batch.json');
    const handle = w.client.workflow.getHandle(workflowId);
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as { message: string; nonRetryable?: boolean };
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('input.maxConcurrency');
    expect(cause.message).toContain('input.experiments.0.params.trainRatio');
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowTaskFailedEventAttributes || e.activityTaskScheduledEventAttributes)).toEqual([]);
  });

  it('examples/simulation/job.json prepares its environment and runs replicates; cancelling stops it', async () => {
    const workflowId = await startFromCli('simulationJob', 'examples/simulation/job.json');
    const handle = w.client.workflow.getHandle(workflowId);
    // Real replicates of the SIR model, stored in PostgreSQL.
    await waitFor(
      async () => {
        const { rows } = await w.pool.query(
          `SELECT count(*)::int AS n FROM simulation_replicates WHERE job_id = 'sir-example' AND status = 'succeeded'`,
        );
        return rows[0].n >= 3;
      },
      'replicates of the example job stored',
      90_000,
    );
    const progress = await handle.query<SimulationJobProgress>('progress');
    expect(progress).toMatchObject({ jobId: 'sir-example', stage: 'running', totals: { parameters: 20, replicates: 1000 } });
    expect(progress.environment).toMatchObject({ probe: { ok: true } });
    const details = await currentDetails(workflowId);
    expect(details).toContain('**Simulation sir-example**: running');
    expect(details).toMatch(/environment [0-9a-f]{32} \((built|reused|rebuilt), probe ok\)/);
    const described = await handle.describe();
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the record view still shows what the workflows' record-form upserts wrote
    expect(described.searchAttributes).toMatchObject({ PipelineKind: ['simulationJob'], PipelineId: ['sir-example'], Stage: ['running'] });

    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  });
});
