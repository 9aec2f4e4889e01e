import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import { freePort } from '../scripts/lib/free-port.js';
import { nodeExperiment } from './support/experiments.js';
import { connectTestClient, tempDir, uniqueQueue } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { spawnWorkerProcess } from './support/worker-process.js';

// The worker's own health endpoint, what Kubernetes probes and compose healthchecks ask:
// /healthz while the process lives, /readyz only while it polls — not while it drains.
const get = (url: string) =>
  fetch(url).then(
    (r) => r.status,
    () => 0,
  );

describe('worker health endpoint (SHEPHERD_HEALTH_ADDRESS)', () => {
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('ready while polling, not ready while draining on SIGTERM, gone after exit', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const taskQueue = uniqueQueue('health');
    const marker = randomUUID();
    const w = spawnWorkerProcess({
      taskQueue,
      dataDir: tempDir('health'),
      env: { SHEPHERD_HEALTH_ADDRESS: `127.0.0.1:${port}`, SHEPHERD_SHUTDOWN_GRACE: '5s' },
    });
    cleanups.push(() => w.kill('SIGKILL'));
    await w.ready;
    await waitFor(async () => (await get(`${base}/readyz`)) === 200, 'ready');
    expect(await get(`${base}/healthz`)).toBe(200);
    expect(await get(`${base}/nope`)).toBe(404);

    // A step that outlasts the grace period keeps the worker draining for a while.
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());
    const handle = await startExperimentBatch(
      client,
      {
        batchId: `health-${marker.slice(0, 8)}`,
        experiments: [nodeExperiment('long', 'setInterval(() => console.log("tick"), 200);', { env: { SHEPHERD_TEST_MARKER: marker } })],
      },
      { taskQueue },
    );
    cleanups.push(() => handle.terminate().catch(() => undefined));
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length > 0, 'the step running');

    w.kill('SIGTERM');
    await waitFor(async () => (await get(`${base}/readyz`)) === 503, 'not ready while draining', 5_000);
    expect(await get(`${base}/healthz`)).toBe(200); // alive: Kubernetes must not kill it early
    await w.exited;
    expect(await get(`${base}/healthz`)).toBe(0);
  });
});
