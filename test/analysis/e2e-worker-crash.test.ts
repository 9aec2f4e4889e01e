import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_LABEL, WORKFLOW_LABEL } from '../../src/activities/containers/labels.js';
import { startAnalysisPipeline } from '../../src/client/analysis.js';
import { listAnalyzerRuns } from '../../src/db/analysis/findings-query.js';
import { connectTestClient, tempDir, uniqueQueue } from '../support/harness.js';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process.js';
import { closePool, pool } from './analyzer-support.js';
import { ensureTestContainers, outcome, pipelineContainers, target, testDocker, uniquePipelineId, waitFor } from './e2e-support.js';
import type { Client, Connection } from '@temporalio/client';

// The real worker entry point, SIGKILLed while its app container is held and a load test runs
// against it: the dead worker's container is removed (watchdog / the next worker's start-up
// reaper, found by its owner label), and a fresh worker completes the target with a new one.

const GUESTBOOK = 'examples/analysis/apps/llama-coder-app1';
const workers: WorkerProcess[] = [];
let client: Client;
let connection: Connection;

beforeAll(async () => {
  await ensureTestContainers();
  ({ client, connection } = await connectTestClient());
});
afterAll(async () => {
  for (const wp of workers) wp.kill('SIGKILL');
  await Promise.all(workers.map((wp) => wp.exited));
  await connection?.close();
  await closePool();
});

function startWorker(taskQueue: string): WorkerProcess {
  const wp = spawnWorkerProcess({ taskQueue, dataDir: tempDir('crash-worker') });
  workers.push(wp);
  return wp;
}

describe('worker SIGKILL mid-analysis', () => {
  it('leaves no container of the dead worker, and a fresh worker completes the target', async () => {
    const taskQueue = uniqueQueue('analysis-crash');
    const first = startWorker(taskQueue);
    await first.ready;
    const pipelineId = uniquePipelineId('crash');
    const handle = await startAnalysisPipeline(
      client,
      {
        pipelineId,
        notify: false,
        targets: [{ model: 'llama-coder', app: 1, sourceDir: GUESTBOOK, buildContext: GUESTBOOK, port: 8080, healthPath: '/health' }],
        // The analyzer's heartbeat timeout outlasts the holder's (20 s), so by the time the lost
        // load test is retried the replacement container has signalled its address.
        analyzers: [{ name: 'static' }, { name: 'performance', heartbeatTimeout: '45s', config: { durationSeconds: 20, connections: 2 } }],
      },
      { taskQueue },
    );
    const held = await waitFor(
      async () => (await pipelineContainers(testDocker(), pipelineId)).find((c) => c.State === 'running'),
      'the app container running',
    );
    const deadOwner = held.Labels[OWNER_LABEL]!;
    // Let the load test get going against it, then kill the worker like a crashed machine.
    await waitFor(
      async () => (await listAnalyzerRuns(pool(), pipelineId)).some((r) => r.analyzer === 'static'),
      'the static analyzer done',
    );
    const t0 = Date.now();
    const mark = (m: string) => process.env.SHEPHERD_TEST_TRACE && console.error(`[crash +${Date.now() - t0} ms] ${m}`);
    first.kill('SIGKILL');
    await first.exited;

    const second = startWorker(taskQueue);
    await second.ready;
    mark('second worker ready');
    await waitFor(
      async () => (await testDocker().listContainers({ all: true, filters: { label: [`${OWNER_LABEL}=${deadOwner}`] } })).length === 0,
      "the dead worker's containers removed",
      60_000,
    );

    mark('dead worker containers gone');
    const result = await handle.result();
    mark('result');
    const t = target(result, 'llama-coder', '1');
    expect(t.status, JSON.stringify(t.analyzers)).toBe('completed');
    expect(outcome(t, 'performance').status).toBe('completed');
    expect(outcome(t, 'static').status).toBe('completed');
    await waitFor(async () => (await pipelineContainers(testDocker(), pipelineId)).length === 0, 'no container left', 30_000);
    const leftovers = await testDocker().listContainers({ all: true, filters: { label: [WORKFLOW_LABEL] } });
    expect(leftovers.filter((c) => c.Labels[WORKFLOW_LABEL]!.startsWith(`analysis-${pipelineId}-`))).toEqual([]);
  }, 300_000);
});
