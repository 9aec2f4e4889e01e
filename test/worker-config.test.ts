import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { connectTestClient, tempDir, uniqueQueue } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { spawnWorkerProcess, type WorkerProcess } from './support/worker-process.js';

// `npm run worker` finds its server through a temporal.toml profile (@temporalio/envconfig) when
// TEMPORAL_ADDRESS is not set, as the Temporal CLI and the other SDKs do.

describe('npm run worker connection settings', () => {
  let worker: WorkerProcess | undefined;
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await worker?.exited;
  });

  it('connects through the temporal.toml profile named by TEMPORAL_PROFILE and runs a batch', async () => {
    const dir = tempDir('toml');
    const file = path.join(dir, 'temporal.toml');
    writeFileSync(file, `[profile.shepherd-test]\naddress = "${inject('temporalAddress')}"\nnamespace = "default"\n`);
    const taskQueue = uniqueQueue('toml');
    worker = spawnWorkerProcess({
      taskQueue,
      dataDir: tempDir('toml-worker'),
      // undefined removes the variable from the worker's environment: only the profile says where the server is.
      env: {
        TEMPORAL_ADDRESS: undefined as unknown as string,
        TEMPORAL_NAMESPACE: undefined as unknown as string,
        TEMPORAL_CONFIG_FILE: file,
        TEMPORAL_PROFILE: 'shepherd-test',
      },
    });
    await worker.ready;

    const { client, connection } = await connectTestClient();
    try {
      const handle = await startExperimentBatch(
        client,
        { batchId: `toml-${randomUUID().slice(0, 8)}`, experiments: [nodeExperiment('x', 'done({ accuracy: 1 })')] },
        { taskQueue },
      );
      const result = (await handle.result()) as ExperimentBatchResult;
      expect(result.status).toBe('completed');
    } finally {
      await connection.close();
    }
  });
});
