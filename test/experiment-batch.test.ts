import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentBatchWorkflowId, startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { exportResults } from '../src/activities/experiments/results.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { startWithTemporalCli } from './support/temporal-cli.js';
import { iris, nodeExperiment } from './support/experiments.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';
import { experimentBatch } from '../src/workflows/index.js';

const batchId = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

async function rows(w: TestWorker, id: string) {
  const { rows } = await w.pool.query(
    'SELECT experiment, status, metrics, attempt, error FROM experiment_results WHERE batch_id = $1 ORDER BY experiment',
    [id],
  );
  return rows;
}

async function historyEventTypes(w: TestWorker, workflowId: string): Promise<string[]> {
  const history = await w.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => String(e.eventType));
}

/** The attempt on which runExperiment (the child's first activity) ended. */
async function stepAttempts(w: TestWorker, workflowId: string): Promise<number> {
  const history = await w.client.workflow.getHandle(workflowId).fetchHistory();
  const started = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes);
  return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
}

describe('experimentBatch', () => {
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

  it('runs real classifiers end to end: metrics in PostgreSQL, one row each, one CSV header, one notification', async () => {
    const id = batchId('iris');
    hook.received.length = 0;
    const input = {
      batchId: id,
      maxConcurrency: 2,
      experiments: [
        iris('knn-k5', 'knn', ['--k', '5']),
        iris('tree', 'decision-tree', ['--max-depth', '3']),
        iris('logreg', 'logistic-regression'),
      ],
    };
    const handle = await startExperimentBatch(w.client, input, { taskQueue: w.taskQueue });
    const result = (await handle.result()) as ExperimentBatchResult;

    expect(result.status).toBe('completed');
    expect(result.experiments.map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const e of result.experiments) expect(e.metrics?.accuracy).toBeGreaterThan(0.8);

    const stored = await rows(w, id);
    expect(stored.map((r) => r.experiment)).toEqual(['knn-k5', 'logreg', 'tree']);
    expect(stored.every((r) => r.status === 'succeeded')).toBe(true);

    const csv = await exportResults(w.pool, id, 'csv');
    const lines = csv.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('experiment,')).length).toBe(1);
    expect(lines.length).toBe(4);
    const json = JSON.parse(await exportResults(w.pool, id, 'json'));
    expect(json).toHaveLength(3);

    expect(hook.received).toHaveLength(1);
    expect(JSON.stringify(hook.received[0].body)).toContain(id);
    expect(result.notified).toBe(true);
  });

  it('fails at once on invalid input, naming the fields, before any step runs', async () => {
    const broken = JSON.parse(readFileSync('examples/experiments/broken-batch.json', 'utf8'));
    broken.batchId = batchId('broken');
    // Bypass the client-side check to prove the workflow itself refuses the input.
    const handle = await w.client.workflow.start(experimentBatch, {
      taskQueue: w.taskQueue,
      workflowId: experimentBatchWorkflowId(broken.batchId),
      args: [broken],
    });
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = String(err.cause?.message);
    expect(message).toContain('input.maxConcurrency');
    expect(message).toContain('input.experiments.0.name');
    expect(message).toContain('input.experiments.0.params.trainRatio');
    expect(err.cause?.nonRetryable).toBe(true);
    const events = await historyEventTypes(w, handle.workflowId);
    expect(events.some((t) => /START_CHILD|ACTIVITY_TASK_SCHEDULED/.test(t))).toBe(false);
    expect(await rows(w, broken.batchId)).toEqual([]);

    await expect(startExperimentBatch(w.client, broken, { taskQueue: w.taskQueue })).rejects.toThrow(/input\.maxConcurrency/);
  });

  it('a malformed start from the temporal CLI fails the workflow instead of looping on task failures', async () => {
    for (const [label, input] of [
      ['not-an-object', '"just a string"'],
      ['wrong-types', '{"batchId": 7, "experiments": "none"}'],
      ['empty', '{}'],
    ]) {
      const workflowId = `cli-bad-${label}-${randomUUID().slice(0, 6)}`;
      await startWithTemporalCli({ type: 'experimentBatch', taskQueue: w.taskQueue, workflowId, args: ['--input', input] });
      const err = await w.client.workflow
        .getHandle(workflowId)
        .result()
        .catch((e) => e);
      expect(err, label).toBeInstanceOf(WorkflowFailedError);
      expect(String(err.cause?.message), label).toMatch(/invalid input|missing workflow input/);
      const events = await historyEventTypes(w, workflowId);
      expect(
        events.filter((t) => t.includes('WORKFLOW_TASK_FAILED')),
        label,
      ).toEqual([]);
    }
  });

  it('runs at most maxConcurrency experiments at once', async () => {
    const id = batchId('limit');
    const dir = tempDir('running');
    // Each step registers itself while it runs and reports how many were registered at that moment.
    const counted = (name: string) =>
      nodeExperiment(
        name,
        `const me = require('node:path').join(process.env.COUNT_DIR, '${name}'); fs.writeFileSync(me, '');
         setTimeout(() => { const concurrent = fs.readdirSync(process.env.COUNT_DIR).length; fs.rmSync(me); done({ concurrent }); }, 400);`,
        { env: { COUNT_DIR: dir } },
      );
    const handle = await startExperimentBatch(
      w.client,
      { batchId: id, maxConcurrency: 2, experiments: ['a', 'b', 'c', 'd', 'e'].map(counted) },
      { taskQueue: w.taskQueue },
    );
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
    const seen = result.experiments.map((e) => e.metrics?.concurrent as number);
    expect(seen).toHaveLength(5);
    expect(Math.max(...seen)).toBeLessThanOrEqual(2);
  });

  it('keeps each experiment to its own fresh workspace: no stale or foreign outputs reach its result', async () => {
    const id = batchId('isolation');
    const writer = (name: string) =>
      nodeExperiment(
        name,
        `const seen = fs.readdirSync('.').sort(); fs.writeFileSync('out.csv', 'value\\n${name}\\n'); done({ seen, mine: fs.readFileSync('out.csv', 'utf8') });`,
        { outputs: ['out.csv'] },
      );
    const handle = await startExperimentBatch(
      w.client,
      { batchId: id, maxConcurrency: 2, experiments: [writer('a'), writer('b')] },
      { taskQueue: w.taskQueue },
    );
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
    for (const e of result.experiments) {
      expect(e.metrics?.mine).toBe(`value\n${e.name}\n`);
      // The workspace held nothing from the other experiment or an earlier run when the step began.
      expect((e.metrics?.seen as string[]).filter((f) => f.endsWith('.csv'))).toEqual([]);
    }
  });

  it('retries a transient failure with backoff and stores a single row for the experiment', async () => {
    const id = batchId('retry');
    const marker = path.join(tempDir('marker'), 'attempted');
    const flaky = nodeExperiment(
      'flaky',
      `if (!fs.existsSync(process.env.MARKER)) { fs.writeFileSync(process.env.MARKER, '1'); console.error('transient: connection reset'); process.exit(1); } done({ accuracy: 0.5 });`,
      {
        env: { MARKER: marker },
      },
    );
    const handle = await startExperimentBatch(
      w.client,
      { batchId: id, experiments: [flaky], retry: { maximumAttempts: 3, initialInterval: '100ms' } },
      { taskQueue: w.taskQueue },
    );
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.experiments[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(existsSync(marker)).toBe(true);
    const stored = await rows(w, id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ status: 'succeeded', attempt: 2 });
  });

  it('reports a failing experiment with exit code and stderr, does not retry a usage error, and finishes the rest', async () => {
    const id = batchId('partial');
    const bad = iris('empty-train', 'decision-tree');
    bad.args = bad.args.map((a) => (a === '0.8' ? '0.001' : a));
    const ok = nodeExperiment('ok', `done({ accuracy: 1 })`);
    const crash = nodeExperiment('crash', `console.error('boom: out of cheese'); process.exit(3);`);
    const handle = await startExperimentBatch(
      w.client,
      { batchId: id, experiments: [bad, ok, crash], retry: { maximumAttempts: 2, initialInterval: '100ms' } },
      { taskQueue: w.taskQueue },
    );
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed_with_failures');
    const byName = Object.fromEntries(result.experiments.map((e) => [e.name, e]));
    expect(byName.ok.status).toBe('succeeded');
    expect(byName['empty-train'].status).toBe('failed');
    expect(byName['empty-train'].error).toMatch(/exited with code 2/);
    expect(byName['empty-train'].error).toMatch(/(train|test) set would be empty/);
    expect(byName.crash.error).toMatch(/exited with code 3/);
    expect(byName.crash.error).toContain('boom: out of cheese');
    // Exit code 2 (usage error) is not retried; exit code 3 is, up to maximumAttempts.
    expect(await stepAttempts(w, `experiment-${id}-empty-train`)).toBe(1);
    expect(await stepAttempts(w, `experiment-${id}-crash`)).toBe(2);
    const stored = Object.fromEntries((await rows(w, id)).map((r) => [r.experiment, r]));
    expect(stored.crash.status).toBe('failed');
    expect(stored.ok.status).toBe('succeeded');
    // The structured failure is stored too, so failures can be queried, not only read.
    const { rows: failures } = await w.pool.query(
      'SELECT experiment, exit_code, attempt, failure FROM experiment_results WHERE batch_id = $1 AND status = $2 ORDER BY experiment',
      [id, 'failed'],
    );
    // ...with the attempt it really ended on: the usage error ran once.
    expect(failures.map((r) => [r.experiment, r.exit_code, r.attempt])).toEqual([
      ['crash', 3, 2],
      ['empty-train', 2, 1],
    ]);
    expect(failures[0].failure).toMatchObject({ exitCode: 3, signal: null, possibleOomKill: false, timedOut: false });
    expect(failures[0].failure.stderrTail).toContain('boom: out of cheese');
  });

  it('a webhook that answers 500 never fails the batch', async () => {
    hook.status = 500;
    try {
      const id = batchId('hook-down');
      const handle = await startExperimentBatch(
        w.client,
        { batchId: id, experiments: [nodeExperiment('x', 'done({ accuracy: 1 })')] },
        { taskQueue: w.taskQueue },
      );
      const result = (await handle.result()) as ExperimentBatchResult;
      expect(result.status).toBe('completed');
      expect(result.notified).toBe(false);
    } finally {
      hook.status = 200;
    }
  });
});
