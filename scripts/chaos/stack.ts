import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../lib/dev-server.js';
import { freePort } from '../lib/free-port.js';
import { spawnWorkerProcess, type WorkerProcess } from '../lib/worker-process.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { workflowsPath } from '../../src/workers/create-worker.js';
import { bundleOptions } from '../../src/workers/bundle-options.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { startFakeModelServer, type FakeModelServer } from '../../test/support/fake-ollama.js';

export const CHAOS_MODEL = 'chaos-model';

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

export type ChaosWorker = WorkerProcess & { alive: boolean };

/** The real pieces a chaos run drives: a dev server on a SQLite file, a fresh database, workers. */
export interface ChaosStack {
  root: string;
  /** SHEPHERD_DATA_DIR of every worker: step workspaces live under it. */
  dataDir: string;
  taskQueue: string;
  /** Every process this run starts carries SHEPHERD_CHAOS_MARKER=<marker>, and so do their children. */
  marker: string;
  db: TestDatabase;
  server: DevServer;
  client: Client;
  workers: ChaosWorker[];
  /** The model server conversation steps call (Ollama's protocol over real HTTP), as `chaos-model`. */
  models: FakeModelServer;
  spawnWorker(): ChaosWorker;
  restartServer(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(): Promise<ChaosStack> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'shepherd-chaos-'));
  const dbFile = path.join(root, 'temporal.sqlite');
  const port = await freePort();
  const [server, db, bundle, models] = await Promise.all([
    startDevServer({ dbFile, port, logFile: path.join(root, 'temporal.log') }),
    createTestDatabase('shepherd_chaos'),
    bundleWorkflowCode({ ...bundleOptions, workflowsPath, logger: quiet }),
    startFakeModelServer(),
  ]);
  // Replies stream for about 1.5 s, so a worker kill can land in the middle of a model call.
  models.setDefault({ reply: 'a steady streamed answer, chunk by chunk', chunkSize: 1, chunkDelayMs: 40 });
  const registry = { models: { [CHAOS_MODEL]: { provider: 'ollama', baseUrl: models.url, maxConcurrency: 2 } } };
  const pool = createPool(db.url);
  await migrate(pool);
  await pool.end();
  const bundlePath = path.join(root, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  const connection = await Connection.connect({ address: server.address });
  const marker = randomUUID();
  const stack: ChaosStack = {
    root,
    dataDir: path.join(root, 'data'),
    taskQueue: `chaos-${marker.slice(0, 8)}`,
    marker,
    db,
    server,
    client: new Client({ connection, namespace: 'default' }),
    workers: [],
    models,
    spawnWorker() {
      const w = spawnWorkerProcess({
        ...(process.env as Record<string, string>),
        TEMPORAL_ADDRESS: stack.server.address,
        TEMPORAL_NAMESPACE: 'default',
        DATABASE_URL: db.url,
        SHEPHERD_TASK_QUEUE: stack.taskQueue,
        // Shared by all workers, like a shared volume: a retry on another worker finds checkpoints.
        SHEPHERD_DATA_DIR: stack.dataDir,
        SHEPHERD_LOG_LEVEL: 'info',
        SHEPHERD_SHUTDOWN_GRACE: '2s',
        SHEPHERD_WORKFLOW_BUNDLE: bundlePath,
        SHEPHERD_CHAOS_MARKER: marker,
        SHEPHERD_MODELS: JSON.stringify(registry),
        // A killed worker's model slot is free again after 2 s, not the default minute.
        SHEPHERD_MODEL_LEASE_TTL_MS: '2000',
      });
      const tracked = Object.assign(w, { alive: true });
      void w.exited.then(() => (tracked.alive = false));
      stack.workers.push(tracked);
      return tracked;
    },
    async restartServer() {
      await stack.server.stop();
      stack.server = await startDevServer({ dbFile, port, logFile: path.join(root, 'temporal-2.log') });
    },
    async close() {
      for (const w of stack.workers) if (w.alive) w.kill('SIGTERM');
      await Promise.all(stack.workers.map((w) => w.exited));
      await connection.close().catch(noop);
      await stack.server.stop();
      await models.close();
      await db.drop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return stack;
}
