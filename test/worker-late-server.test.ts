import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../scripts/lib/dev-server.js';
import { freePort } from '../scripts/lib/free-port.js';
import { connectTestClient, tempDir, uniqueQueue } from './support/harness.js';
import { waitFor } from './support/procs.js';
import { spawnWorkerProcess, type WorkerProcess } from './support/worker-process.js';

// Issue 12 item 5: the real worker entry point started while its server is down waits, retrying
// with backoff and saying which address it waits for, and starts polling once the server is up.
describe('worker started before its server', () => {
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await worker?.exited;
    await server?.stop();
  });

  it('waits for the address, then polls once a dev server comes up late', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const taskQueue = uniqueQueue('late');
    worker = spawnWorkerProcess({ taskQueue, dataDir: tempDir('late'), address });
    const waitingLines = () =>
      worker!
        .output()
        .split('\n')
        .filter((l) => l.includes(`waiting for the Temporal server at ${address}`));
    await waitFor(() => waitingLines().length >= 2, 'two "waiting for the Temporal server" lines', 60_000);
    expect(worker.output()).not.toContain('worker started');

    server = await startDevServer({ port });
    await worker.ready; // "worker started": it connected and polls
    const { client, connection } = await connectTestClient(address);
    try {
      // Only a polling worker can fail this workflow (input missing) rather than leave it queued.
      const handle = await client.workflow.start('experimentBatch', {
        taskQueue,
        workflowId: `late-${randomUUID().slice(0, 8)}`,
        args: [],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as Error).message).toMatch(/missing workflow input/);
    } finally {
      await connection.close();
    }
    expect(worker.output()).toContain(`connected to the Temporal server at ${address}`);
    // Started as spawnWorkerProcess starts it (as `npm run worker` does): with its memory settings.
    expect(worker.output()).not.toContain('without its memory settings');
  });
});
