import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { createLogger } from '../../src/config/logger.js';
import { loadModelRegistry } from '../../src/config/models.js';
import { createPool } from '../../src/db/pool.js';
import { createModelWorkers } from '../../src/workers/model-workers.js';
import { createShepherdWorker } from '../../src/workers/create-worker.js';

// Entry of the worker process spawned by spawnConversationWorker (conversation-worker.ts): the
// Shepherd worker and the per-model workers, configured from env like a deployment would be.
const logger = createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'warn', 'conversation-worker');
const pool = createPool(process.env.DATABASE_URL!);
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const dataDir = process.env.SHEPHERD_DATA_DIR!;
const taskQueue = process.env.SHEPHERD_TASK_QUEUE!;
const deps = { pool, runsDir: path.join(dataDir, 'runs'), procDir: path.join(dataDir, 'procs'), logger, projectDir: process.cwd() };
const bundle = process.env.SHEPHERD_WORKFLOW_BUNDLE;
const worker = await createShepherdWorker({ connection, namespace: 'default', taskQueue, deps, shutdownGraceTime: '1s', workflowBundle: bundle ? { codePath: bundle } : undefined });
const models = await createModelWorkers({
  connection,
  namespace: 'default',
  taskQueue,
  pool,
  registry: loadModelRegistry(),
  logger,
  leaseTtlMs: Number(process.env.SHEPHERD_LEASE_TTL_MS ?? 30_000),
  shutdownGraceTime: '1s',
});
console.log('worker started');
await Promise.all([worker.run(), models.run()]);
await connection.close();
await pool.end();
