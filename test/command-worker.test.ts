import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { batchResult } from '../src/client/outcome.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { batchProgress, startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { startTestWorker, tempDir, uniqueQueue, type TestWorker } from './support/harness.js';
import { spawnWorkerProcess } from './support/worker-process.js';
import { nodeExperiment } from './support/experiments.js';
import { markedProcesses, waitFor } from './support/procs.js';

// runCommand's guarantees through a real worker and server: the start-to-close timeout,
// workflow cancellation and worker shutdown each kill the step's whole process group.

/** A step that forks a SIGTERM-ignoring grandchild and then never finishes on its own. */
function stubborn(name: string, marker: string) {
  return nodeExperiment(
    name,
    `const { spawn } = require('node:child_process');
     spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
     process.on('SIGTERM', () => {}); setInterval(() => console.log('still here'), 200);`,
    { env: { SHEPHERD_TEST_MARKER: marker } },
  );
}

const live = (marker: string) => markedProcesses('SHEPHERD_TEST_MARKER', marker);

describe('runCommand through a real worker', () => {
  const workers: TestWorker[] = [];
  const markers: string[] = [];
  afterEach(async () => {
    for (const m of markers) await waitFor(() => live(m).length === 0, `processes of ${m} gone`, 15_000).catch(() => undefined);
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
  });

  it('the start-to-close timeout kills the whole group, TERM-ignoring grandchild included', async () => {
    const w = await startTestWorker();
    workers.push(w);
    const marker = randomUUID();
    markers.push(marker);
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId: `timeout-${marker.slice(0, 8)}`,
        experiments: [{ ...stubborn('stuck', marker), timeout: '3s' }],
        retry: { maximumAttempts: 1 },
      },
      { taskQueue: w.taskQueue },
    );
    await waitFor(() => live(marker).length >= 2, 'step and grandchild running');
    // Its only experiment failed, so the batch fails and carries its result (shared/outcome.ts).
    const result = await batchResult<ExperimentBatchResult>(handle);
    expect(result.experiments[0].status).toBe('failed');
    expect(result.experiments[0].error).toMatch(/timeout|deadline/i);
    await waitFor(() => live(marker).length === 0, 'group killed after the timeout', 15_000);
  });

  it('cancelling the batch kills running steps and reports cancellation, not failure', async () => {
    const w = await startTestWorker();
    workers.push(w);
    const marker = randomUUID();
    markers.push(marker);
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId: `cancel-${marker.slice(0, 8)}`,
        maxConcurrency: 2,
        experiments: [stubborn('a', marker), stubborn('b', marker), stubborn('c', marker)],
      },
      { taskQueue: w.taskQueue },
    );
    await waitFor(() => live(marker).length >= 4, 'two steps and their grandchildren running');
    await handle.cancel();
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.name).toBe('CancelledFailure');
    // The batch closes only after its experiments, and they only after their steps were killed.
    expect(live(marker)).toEqual([]);
    // Each running step reported a cancellation to Temporal, not a failure.
    for (const name of ['a', 'b']) {
      const events = (await w.client.workflow.getHandle(`experiment-cancel-${marker.slice(0, 8)}-${name}`).fetchHistory()).events ?? [];
      const endings = events.flatMap((e) =>
        e.activityTaskCanceledEventAttributes
          ? ['cancelled']
          : e.activityTaskFailedEventAttributes
            ? ['failed']
            : e.activityTaskTimedOutEventAttributes
              ? ['timed out']
              : [],
      );
      expect(endings, name).toEqual(['cancelled']);
    }
    const { rows } = await w.pool.query('SELECT status FROM batches WHERE batch_id = $1', [`cancel-${marker.slice(0, 8)}`]);
    expect(rows[0]?.status).toBe('cancelled');
  });

  it('worker shutdown kills the steps it is running after the grace period', async () => {
    const w = await startTestWorker({ shutdownGraceTime: '1s' });
    const marker = randomUUID();
    markers.push(marker);
    const handle = await startExperimentBatch(
      w.client,
      { batchId: `shutdown-${marker.slice(0, 8)}`, experiments: [stubborn('s', marker)], heartbeatTimeout: '5s' },
      { taskQueue: w.taskQueue },
    );
    await waitFor(() => live(marker).length >= 2, 'step running');
    expect((await batchProgress(handle))[0].status).toBe('running');
    const other = await startTestWorker({ taskQueue: `unused-${marker.slice(0, 8)}` });
    workers.push(other);
    await w.stop();
    await waitFor(() => live(marker).length === 0, 'steps killed on worker shutdown', 15_000);
    await other.client.workflow.getHandle(handle.workflowId).terminate('test done');
  });

  it('npm run worker stops gracefully on SIGTERM: it exits by itself and kills the steps it was running', async () => {
    const taskQueue = uniqueQueue('sigterm');
    const marker = randomUUID();
    markers.push(marker);
    const proc = spawnWorkerProcess({ taskQueue, dataDir: tempDir('sigterm-worker') });
    try {
      await proc.ready;
      const client = await startTestWorker({ taskQueue: `unused-${marker.slice(0, 8)}` });
      workers.push(client);
      const handle = await startExperimentBatch(
        client.client,
        { batchId: `sigterm-${marker.slice(0, 8)}`, experiments: [stubborn('s', marker)], heartbeatTimeout: '5s' },
        { taskQueue },
      );
      await waitFor(() => live(marker).length >= 2, 'step and grandchild running');
      // process.kill, not the execa handle's kill: that one adds a SIGKILL after 5 s.
      process.kill(proc.pid, 'SIGTERM');
      const exit = (await proc.exited) as { exitCode?: number; signal?: string };
      // Exited on its own (grace period, then the step's SIGTERM-to-SIGKILL), not killed by the signal.
      expect(exit.signal).toBeUndefined();
      expect(exit.exitCode).toBe(0);
      expect(live(marker)).toEqual([]);
      await client.client.workflow.getHandle(handle.workflowId).terminate('test done');
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
