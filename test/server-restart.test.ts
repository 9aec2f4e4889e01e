import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../scripts/lib/dev-server.js';
import { batchProgress, startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { connectTestClient, startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { waitFor } from './support/procs.js';

describe('Temporal server restart mid-batch', () => {
  let server: DevServer | undefined;
  let worker: TestWorker | undefined;
  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
  });

  it('the batch continues on the same SQLite state after the server comes back; nothing to resume by hand', async () => {
    const dbFile = path.join(tempDir('restart'), 'temporal.db');
    server = await startDevServer({ dbFile });
    const { port, address } = server;
    worker = await startTestWorker({ address });

    const id = `restart-${randomUUID().slice(0, 8)}`;
    const step = (name: string) => nodeExperiment(name, `setTimeout(() => done({ accuracy: 0.75 }), 1500)`);
    const handle = await startExperimentBatch(
      worker.client,
      {
        batchId: id,
        maxConcurrency: 1,
        experiments: [step('one'), step('two'), step('three')],
        retry: { maximumAttempts: 10, initialInterval: '500ms' },
      },
      { taskQueue: worker.taskQueue },
    );
    await waitFor(async () => (await batchProgress(handle)).some((e) => e.status === 'succeeded'), 'first experiment done');

    await server.stop();
    server = await startDevServer({ dbFile, port });

    const { client, connection } = await connectTestClient(address);
    try {
      const result = (await client.workflow.getHandle(handle.workflowId).result()) as ExperimentBatchResult;
      expect(result.status).toBe('completed');
      expect(result.experiments.map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      const { rows } = await worker.pool.query('SELECT count(*)::int AS n FROM experiment_results WHERE batch_id = $1', [id]);
      expect(rows[0].n).toBe(3);
    } finally {
      await connection.close();
    }
  });
});
