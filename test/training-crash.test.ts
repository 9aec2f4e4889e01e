import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueUpdate, stopUpdate } from '../src/shared/training/messages.js';
import { connectTestClient, startTestWorker, tempDir, uniqueQueue, type TestWorker } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { irisJob, startQueue, waitStatus } from './support/training.js';
import { spawnWorkerProcess, type WorkerProcess } from './support/worker-process.js';

// The seed's failure: the daemon died, the trainer ran on as an orphan, nothing resumed. Here
// the worker running the trainer is SIGKILLed mid-job: its trainer dies with it, and a second
// worker picks the job up from the last checkpoint, so the step count continues.
describe('worker crash mid-training', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('SIGKILL of the worker: no orphan trainer; another worker resumes from the checkpoint and finishes', async () => {
    const taskQueue = uniqueQueue('train-crash');
    const marker = randomUUID();
    const dataDir = tempDir('train-crash');
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());

    const first: WorkerProcess = spawnWorkerProcess({ taskQueue, dataDir });
    cleanups.push(() => first.kill('SIGKILL'));
    await first.ready;

    const h = await startQueue(client, taskQueue, { queue: `crash-${marker.slice(0, 8)}` });
    cleanups.push(() => h.terminate().catch(() => undefined));
    await h.executeUpdate(enqueueUpdate, {
      args: [
        irisJob('resilient', {
          steps: 3000,
          checkpointInterval: 100,
          evalInterval: 50,
          heartbeatTimeout: '3s',
          retry: { maximumAttempts: 5, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s' },
          params: { stepDelayMs: 2 },
          trainer: { env: { SHEPHERD_TEST_MARKER: marker } },
        }),
      ],
    });

    const before = await waitStatus(h, 'a checkpoint at step 300 or later', (s) => (s.current?.progress?.lastCheckpoint?.step ?? 0) >= 300);
    expect(before.current!.progress!.attempt).toBe(1);
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).not.toEqual([]); // the trainer (and its group's watchdog)
    const checkpointBeforeKill = before.current!.progress!.lastCheckpoint!.step;

    first.kill('SIGKILL');
    await first.exited;
    // The trainer does not outlive its worker.
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no orphaned trainer', 10_000);

    // Same data directory: the job's checkpoints live in <data dir>/training (shared storage in production).
    let second: TestWorker | undefined = await startTestWorker({ taskQueue, deps: { runsDir: path.join(dataDir, 'runs-2') } });
    cleanups.push(() => second?.stop());

    // (Progress of attempt 2 may reach the queue only with its completion: the queue's own
    // workflow tasks were sticky to the dead worker, so the checks below read the outcome.)
    const done = await waitStatus(h, 'the job completed', (s) => s.counts.completed === 1, 120_000);
    expect(done.recent[0]).toMatchObject({ jobId: 'resilient', status: 'completed', step: 3000 });
    const w2 = second;
    const rows = await waitFor(async () => {
      const r = await w2.pool.query('SELECT status, attempt, metrics FROM training_jobs WHERE job_id = $1 AND queue = $2', [
        'resilient',
        done.queue,
      ]);
      return r.rows[0]?.status === 'completed' ? r.rows : undefined;
    }, 'the completed row');
    expect(rows).toHaveLength(1);
    expect(rows[0].attempt).toBeGreaterThanOrEqual(2);
    // The trainer of the last attempt started from a checkpoint at least as new as the last one
    // the queue saw before the kill: the step count continued instead of starting over.
    const resumedFrom = String(rows[0].metrics.resumedFrom);
    expect(resumedFrom).toMatch(/step-\d+\.json$/);
    expect(Number(/step-(\d+)\.json$/.exec(resumedFrom)![1])).toBeGreaterThanOrEqual(checkpointBeforeKill);
    expect(rows[0].metrics.step).toBe(3000);

    await h.executeUpdate(stopUpdate, { args: [] });
    await h.result();
    await second.stop();
    second = undefined;
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
  });
});
