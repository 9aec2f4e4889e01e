import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type pg from 'pg';
import { createLogger } from '../../src/config/logger.js';
import { createPool } from '../../src/db/pool.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { createShepherdWorker } from '../../src/workers/create-worker.js';
import { installSdkLogging } from '../../src/workers/sdk-logging.js';

// Tests fail activities on purpose, and the SDK logs each as a warning: show errors only, unless
// SHEPHERD_LOG_LEVEL asks for more (e.g. SHEPHERD_LOG_LEVEL=debug npx vitest run ...). A file
// that scrapes its in-process workers' metrics sets SHEPHERD_METRICS_ADDRESS before this runs.
const sdkLevel = process.env.SHEPHERD_LOG_LEVEL ?? 'error';
installSdkLogging(createLogger(sdkLevel, 'sdk'), sdkLevel === 'debug' ? 'DEBUG' : sdkLevel === 'info' ? 'INFO' : 'WARN', {
  metricsAddress: process.env.SHEPHERD_METRICS_ADDRESS,
});

export interface TestWorker {
  worker: Worker;
  client: Client;
  pool: pg.Pool;
  taskQueue: string;
  deps: ActivityDeps;
  /** Resolves when worker.run() ends. */
  running: Promise<void>;
  stop(): Promise<void>;
}

export interface TestWorkerOptions {
  taskQueue?: string;
  deps?: Partial<ActivityDeps>;
  shutdownGraceTime?: `${number}s` | `${number}ms`;
  maxConcurrentActivityTaskExecutions?: number;
  address?: string;
}

/** A fresh directory under the suite's temp root. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(inject('tmpRoot'), `${prefix}-`));
}

export function uniqueQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function connectTestClient(address = inject('temporalAddress')): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection }), connection };
}

/** Starts a real in-process Shepherd worker against the suite's dev server and database. */
export async function startTestWorker(opts: TestWorkerOptions = {}): Promise<TestWorker> {
  const address = opts.address ?? inject('temporalAddress');
  const taskQueue = opts.taskQueue ?? uniqueQueue();
  const pool = opts.deps?.pool ?? createPool(inject('databaseUrl'));
  const dataDir = tempDir('worker');
  const deps: ActivityDeps = {
    pool,
    runsDir: path.join(dataDir, 'runs'),
    procDir: path.join(dataDir, 'procs'),
    logger: createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'error', 'test-worker'),
    projectDir: process.cwd(),
    ...opts.deps,
  };
  const connection = await NativeConnection.connect({ address });
  const worker = await createShepherdWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    shutdownGraceTime: opts.shutdownGraceTime ?? '2s',
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions,
  });
  const running = worker.run();
  const { client, connection: clientConnection } = await connectTestClient(address);
  let stopped = false;
  return {
    worker,
    client,
    pool,
    taskQueue,
    deps,
    running,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await clientConnection.close();
      if (!opts.deps?.pool) await pool.end();
    },
  };
}
