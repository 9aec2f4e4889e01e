import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConversationBatch } from '../../src/client/conversations.js';
import { startExperimentBatch, type ExperimentBatchResult } from '../../src/client/experiments.js';
import type { ConversationBatchResult } from '../../src/shared/conversations/schemas.js';
import type { SimulationJobResult } from '../../src/shared/simulation/schemas.js';
import { experimentRunWorkflowId } from '../../src/shared/experiments/workflow-ids.js';
import { enqueueUpdate, stopUpdate } from '../../src/workflows/training/training-queue.js';
import { startClusterStack, type ClusterStack } from '../support/cluster.js';
import { loadExample, loadItems, withModels } from '../support/conversations.js';
import { shJob, startSimulation, writeReplicateScript } from '../support/simulation.js';
import { irisJob, startQueue, waitStatus } from '../support/training.js';

// Every pipeline kind on a real cluster: 4 history shards over 2 history hosts, matching,
// frontend and worker services as separate processes on PostgreSQL, and 3 Shepherd worker
// processes sharing one task queue. Nothing in Shepherd knows it is not the dev server.

let s: ClusterStack;
const id = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  s = await startClusterStack({ workers: 3 });
});
afterAll(async () => {
  await s?.stop();
});

/** Worker identities that started activities in these workflows (from their histories). */
async function activityWorkers(workflowIds: string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const workflowId of workflowIds) {
    const history = await s.client.workflow.getHandle(workflowId).fetchHistory();
    for (const e of history.events ?? [])
      if (e.activityTaskStartedEventAttributes?.identity) ids.add(e.activityTaskStartedEventAttributes.identity);
  }
  return ids;
}

describe('pipelines on a multi-process cluster', () => {
  it('the cluster really is spread out: both history hosts own shards, all 4 are owned', async () => {
    const owners = await s.cluster.waitShardsBalanced(30_000);
    expect(Object.keys(owners).sort()).toEqual(['history-0', 'history-1']);
    expect(Object.values(owners).every((shards) => shards.length > 0)).toBe(true);
    expect(Object.values(owners).flat().sort()).toEqual([1, 2, 3, 4]);
  });

  it('experiments: the example Iris batch completes with one result row per experiment, run by several workers', async () => {
    const example = JSON.parse(readFileSync('examples/experiments/iris-batch.json', 'utf8'));
    const batchId = id('iris');
    const handle = await startExperimentBatch(s.client, { ...example, batchId }, { taskQueue: s.taskQueue });
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
    expect(result.experiments.map((e) => e.status)).toEqual(example.experiments.map(() => 'succeeded'));
    for (const e of result.experiments) expect(e.metrics?.accuracy, e.name).toBeGreaterThan(0.8);

    const { rows } = await s.pool.query(
      'SELECT experiment, count(*)::int AS n FROM experiment_results WHERE batch_id = $1 GROUP BY experiment ORDER BY experiment',
      [batchId],
    );
    expect(rows).toEqual(
      [...example.experiments.map((e: { name: string }) => ({ experiment: e.name, n: 1 }))].sort((a, b) =>
        a.experiment.localeCompare(b.experiment),
      ),
    );
    // Each experiment is its own child workflow, spread over shards and picked up by any worker.
    const children = result.experiments.map((e) => experimentRunWorkflowId(batchId, e.name));
    expect((await activityWorkers(children)).size).toBeGreaterThan(1);
  });

  it('simulation: a parameter sweep completes with one replicate row per (parameter set, replicate) and one aggregate per set', async () => {
    const script = writeReplicateScript();
    const jobId = id('sweep');
    const input = shJob(script, { jobId, parameters: [1, 2, 3].map((n) => ({ values: { mode: 'ok', n } })), replicates: 8 });
    const handle = await startSimulation(s.client, s.taskQueue, input);
    const result = (await handle.result()) as SimulationJobResult;
    expect(result.status).toBe('completed');
    expect(result.totals).toMatchObject({ parameters: 3, replicates: 24, succeeded: 24, failed: 0 });
    const { rows } = await s.pool.query(
      `SELECT parameter_key, count(*)::int AS n, count(DISTINCT replicate)::int AS distinct_replicates FROM simulation_replicates WHERE job_id = $1 AND status = 'succeeded' GROUP BY parameter_key`,
      [jobId],
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toMatchObject({ n: 8, distinct_replicates: 8 });
    const { rows: agg } = await s.pool.query('SELECT count(*)::int AS n FROM simulation_aggregates WHERE job_id = $1', [jobId]);
    expect(agg[0].n).toBe(3);
  });

  it('training: a queued job trains to completion with one job row', async () => {
    const queue = id('train');
    const h = await startQueue(s.client, s.taskQueue, { queue, notify: false });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('cluster-job', { steps: 200 })] });
    const status = await waitStatus(h, 'the job completed', (x) => x.counts.completed === 1, 120_000);
    expect(status.recent.map((r) => [r.jobId, r.status, r.step])).toEqual([['cluster-job', 'completed', 200]]);
    await h.executeUpdate(stopUpdate);
    await h.result();
    const { rows } = await s.pool.query('SELECT job_id, status FROM training_jobs WHERE queue = $1', [queue]);
    expect(rows).toEqual([{ job_id: 'cluster-job', status: 'completed' }]);
  });

  it('conversations: the WF3005 batch over the bundled JSONL completes, one completed attempt per (item, step), against the Ollama-protocol server', async () => {
    const definition = withModels(loadExample(), (m) => s.model(m), id('wf3005'));
    const batchId = id('conv');
    const handle = await startConversationBatch(
      s.client,
      { batchId, definition, source: { kind: 'jsonl', path: 'examples/conversations/skills.jsonl' }, concurrency: 6, pageSize: 12 },
      { taskQueue: s.taskQueue },
    );
    const result = (await handle.result()) as ConversationBatchResult;
    const items = loadItems();
    expect(result).toMatchObject({ status: 'source_exhausted', completed: items.length, failed: 0 });
    const { rows } = await s.pool.query(
      `SELECT item_key, step, count(*) FILTER (WHERE status = 'completed')::int AS done FROM conversation_attempts WHERE batch_id = $1 GROUP BY item_key, step`,
      [batchId],
    );
    expect(new Set(rows.map((r) => r.item_key)).size).toBe(items.length);
    expect(rows.every((r) => r.done === 1)).toBe(true);
    // The model calls ran in the worker processes against the fake server.
    expect(s.fake.requests.some((r) => r.model === s.model('qwen2.5:7b'))).toBe(true);
  });
});
