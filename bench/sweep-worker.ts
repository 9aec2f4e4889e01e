import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { createLogger } from '../src/config/logger.js';
import { createPool } from '../src/db/pool.js';
import { createShepherdWorker } from '../src/workers/create-worker.js';
import { installSdkLogging } from '../src/workers/sdk-logging.js';

// The sweep case's worker, in its own process as it would be deployed, from a pre-built workflow
// bundle: no bundler in its heap. A subprocess replicate costs the worker a fork(), and fork()
// time grows with the forking process's memory, so this is what a lean worker sustains.
// Usage: sweep-worker.ts <address> <databaseUrl> <taskQueue> <dataDir> <bundlePath>
const [address, databaseUrl, taskQueue, dataDir, bundlePath] = process.argv.slice(2);
const logger = createLogger('warn', 'bench-sweep-worker');
installSdkLogging(logger, 'WARN');
const pool = createPool(databaseUrl!);
const connection = await NativeConnection.connect({ address });
const worker = await createShepherdWorker({
  connection,
  namespace: 'default',
  taskQueue: taskQueue!,
  deps: { pool, runsDir: path.join(dataDir!, 'runs'), procDir: path.join(dataDir!, 'procs'), logger, projectDir: process.cwd() },
  workflowBundle: { codePath: bundlePath! },
  maxConcurrentActivityTaskExecutions: 100,
  shutdownGraceTime: '5s',
});
process.once('SIGTERM', () => worker.shutdown());
process.stdout.write('ready\n');
await worker.run();
await connection.close();
await pool.end();
