import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import { MAX_MEMO_VALUE_BYTES } from '../src/shared/memo/bounded-memo.js';
import { enqueueUpdate, resumeUpdate } from '../src/workflows/training/training-queue.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { irisJob, startQueue, type QueueHandle } from './support/training.js';

// Issue 12 item 10: training-queue refusals are non-retryable; hostile-but-legal step specs fail
// validation at the start naming the field; memos stay bounded for a large batch.
describe('refusals, hostile specs and memos', () => {
  let w: TestWorker;
  const queues: QueueHandle[] = [];
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    for (const h of queues) await h.terminate().catch(() => undefined);
    await w?.stop();
  });

  async function refusal(p: Promise<unknown>) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return (err as WorkflowUpdateFailedError).cause as Error & { nonRetryable?: boolean; type?: string };
  }

  it('every training-queue refusal is non-retryable, and hostile trainer specs are refused naming the field', async () => {
    const h = await startQueue(w.client, w.taskQueue, { queue: `refuse-${randomUUID().slice(0, 8)}` });
    queues.push(h);
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['invalid job', () => h.executeUpdate(enqueueUpdate, { args: [{ jobId: 'x' } as never] }), /dataset/],
      ['resume when not paused', () => h.executeUpdate(resumeUpdate, { args: [] }), /paused/i],
      [
        'reserved env',
        () => h.executeUpdate(enqueueUpdate, { args: [irisJob('env', { trainer: { env: { SHEPHERD_RESULT_FILE: '/tmp/x' } } })] }),
        /trainer\.env\.SHEPHERD_RESULT_FILE: is set by Shepherd/,
      ],
      [
        'climbing command',
        () => h.executeUpdate(enqueueUpdate, { args: [irisJob('cmd', { trainer: { command: '../../etc/passwd' } })] }),
        /trainer\.command: must not contain "\.\."/,
      ],
    ];
    for (const [label, p, message] of cases) {
      const cause = await refusal(p());
      expect(cause.nonRetryable, `${label}: ${cause.message}`).toBe(true);
      expect(cause.message, label).toMatch(message);
    }
  });

  it('an experiment batch with a reserved env name or a climbing command fails validation before any step runs', async () => {
    for (const [label, experiment, message] of [
      [
        'env',
        { name: 'a', command: 'node', args: ['-e', '1'], env: { SHEPHERD_RESULT_FILE: '/etc/passwd' } },
        /experiments\.0\.env\.SHEPHERD_RESULT_FILE: is set by Shepherd/,
      ],
      ['command', { name: 'a', command: '../../etc/passwd' }, /experiments\.0\.command: must not contain "\.\."/],
    ] as const) {
      const h = await startExperimentBatch(
        w.client,
        { batchId: `hostile-${label}-${randomUUID().slice(0, 8)}`, experiments: [experiment as never], notify: false },
        { taskQueue: w.taskQueue },
      ).catch((e: Error) => e);
      let err: unknown = h;
      if (!(h instanceof Error)) err = await h.result().catch((e: unknown) => e);
      const text = err instanceof WorkflowFailedError ? String((err.cause as Error).message) : String((err as Error).message);
      expect(text, label).toMatch(message);
      if (!(h instanceof Error)) {
        const events = (await h.fetchHistory()).events ?? [];
        expect(
          events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
          `${label}: no experiment started`,
        ).toBe(false);
      }
    }
  });

  it('a 100-experiment batch keeps its memo bounded', async () => {
    const experiments = Array.from({ length: 100 }, (_, i) => ({
      name: `e${i}`,
      command: 'node',
      args: ['-e', `/* ${'x'.repeat(400)} */ setTimeout(() => {}, 60000)`],
    }));
    const batchId = `memo-${randomUUID().slice(0, 8)}`;
    const h = await startExperimentBatch(w.client, { batchId, experiments, maxConcurrency: 1, notify: false }, { taskQueue: w.taskQueue });
    try {
      const memo = await (async () => {
        for (let i = 0; i < 100; i++) {
          const d = await h.describe();
          if (d.memo?.effectiveInput) return d.memo;
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error('no memo');
      })();
      const bytes = Buffer.byteLength(JSON.stringify(memo));
      expect(bytes).toBeLessThanOrEqual(MAX_MEMO_VALUE_BYTES + 1024);
      expect(memo.effectiveInput).toMatchObject({ truncated: true, batchId, experiments: { items: 100 } });
    } finally {
      await h.terminate('memo test');
    }
  });
});
