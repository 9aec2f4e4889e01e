import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { connectTestClient, startTestWorker, tempDir, uniqueQueue, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { spawnWorkerProcess, type WorkerProcess } from './support/worker-process.js';

// A step whose program forks a grandchild that ignores SIGTERM, then works for a while: the
// shape of the seed's orphaned Dask scheduler.
function slowWithGrandchild(name: string, marker: string, ms: number) {
  return nodeExperiment(
    name,
    `const { spawn } = require('node:child_process');
     spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
     let left = ${ms}; const t = setInterval(() => { left -= 200; console.log('working', left); if (left <= 0) { clearInterval(t); done({ accuracy: 0.9 }); process.exit(0); } }, 200);`,
    { env: { SHEPHERD_TEST_MARKER: marker } },
  );
}

describe('worker crash mid-experiment', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('a SIGKILLed worker takes its steps with it; a fresh worker finishes the batch with no duplicate row', async () => {
    const taskQueue = uniqueQueue('crash');
    const marker = randomUUID();
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());

    const first: WorkerProcess = spawnWorkerProcess({ taskQueue, dataDir: tempDir('crash-worker') });
    cleanups.push(() => first.kill('SIGKILL'));
    await first.ready;

    const id = `crash-${marker.slice(0, 8)}`;
    const handle = await startExperimentBatch(
      client,
      {
        batchId: id,
        maxConcurrency: 2,
        heartbeatTimeout: '3s',
        retry: { maximumAttempts: 5, initialInterval: '200ms' },
        experiments: [slowWithGrandchild('long-a', marker, 6000), slowWithGrandchild('long-b', marker, 6000)],
      },
      { taskQueue },
    );

    // Both steps and their TERM-ignoring grandchildren are running under the first worker.
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length >= 4, 'steps and grandchildren running');
    first.kill('SIGKILL');
    await first.exited;

    // Nothing the dead worker started survives it: not the steps, not their grandchildren.
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no orphaned step process', 10_000);

    let second: TestWorker | undefined = await startTestWorker({ taskQueue });
    cleanups.push(() => second?.stop());
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.experiments.map((e) => e.error ?? e.status)).toEqual(['succeeded', 'succeeded']);
    expect(result.status).toBe('completed');
    expect(result.experiments.every((e) => (e.attempts ?? 0) >= 2)).toBe(true);

    const { rows } = await second.pool.query(
      'SELECT experiment, count(*)::int AS n FROM experiment_results WHERE batch_id = $1 GROUP BY experiment ORDER BY experiment',
      [id],
    );
    expect(rows).toEqual([
      { experiment: 'long-a', n: 1 },
      { experiment: 'long-b', n: 1 },
    ]);
    await second.stop();
    second = undefined;
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
  });
});
