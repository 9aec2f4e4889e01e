import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { enqueueUpdate } from '../src/workflows/training/training-queue.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { waitFor } from './support/procs.js';
import { irisJob, startQueue, waitStatus, type QueueHandle } from './support/training.js';

// Issue 12 item 1: the trainer finished (final checkpoint at step N of N, with its val loss)
// but died before the activity read its result, as when the worker is killed at that moment.
// The retry resumes at step N with nothing to train: it must complete the job with the final
// checkpoint's metrics, not fail it for "no validation loss".
describe('training killed after its final checkpoint', () => {
  let w: TestWorker;
  const handles: QueueHandle[] = [];
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    for (const h of handles) await h.terminate().catch(() => undefined);
    await w?.stop();
  });

  it('the resume at the final step completes the job with the checkpoint val loss', async () => {
    const marker = path.join(tempDir('final-ckpt'), 'died');
    const queue = `final-${randomUUID().slice(0, 8)}`;
    const h = await startQueue(w.client, w.taskQueue, { queue });
    handles.push(h);
    await h.executeUpdate(enqueueUpdate, {
      args: [
        irisJob('finisher', {
          steps: 100,
          trainer: {
            args: ['{project}/test/fixtures/programs/die-after-final-checkpoint.mjs', '{project}/examples/training/trainer.mjs'],
            env: { DIE_ONCE_MARKER: marker },
          },
        }),
      ],
    });
    const s = await waitStatus(h, 'the job finished', (x) => x.counts.completed + x.counts.failed === 1, 120_000);
    expect(existsSync(marker)).toBe(true); // the first attempt really died after training
    expect(s.recent[0]).toMatchObject({ jobId: 'finisher', status: 'completed', step: 100 });
    expect(s.recent[0]!.valLoss).toBeGreaterThan(0);

    const row = await waitFor(async () => {
      const r = await w.pool.query('SELECT status, attempt, metrics, error FROM training_jobs WHERE queue = $1', [queue]);
      return r.rows[0]?.status === 'completed' ? r.rows[0] : undefined;
    }, 'the completed row');
    expect(row.attempt).toBe(2);
    expect(row.metrics).toMatchObject({ step: 100, totalSteps: 100, completedFromCheckpoint: true });
    expect(row.metrics.valLoss).toBeGreaterThan(0);
    expect(String(row.metrics.checkpoint)).toMatch(/step-0*100\.json$/);
  });
});
