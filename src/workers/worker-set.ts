import { artifactStoreFromEnv } from '../storage/artifact-store-from-env.js';
import path from 'node:path';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { ShepherdEnv } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { loadModelRegistry } from '../config/models.js';
import type { Database } from '../db/open.js';
import type { Keyring } from '../codec/keyring.js';
import { createShepherdWorker } from './create-worker.js';
import { createModelWorkers, type ModelWorkers } from './model-workers.js';
import { ModelSlotRegistry } from './local-model-slots.js';

export interface WorkerSet {
  run(): Promise<void>;
  shutdown(): void;
  /** Every worker of the set is polling (for the health endpoint's readiness). */
  ready(): boolean;
  /** Models served by this process (their per-model limits hold across every worker process). */
  models: string[];
}

/**
 * Everything one Shepherd worker process polls: the main task queue (all workflows and
 * activities) and, when models are configured, one activity worker per model queue.
 */
export async function createWorkerSet(opts: {
  env: ShepherdEnv;
  connection: NativeConnection;
  namespace: string;
  db: Database;
  logger: Logger;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Payload encryption keys (keyringFromEnv); default read from the environment. */
  keyring?: Keyring | null;
}): Promise<WorkerSet> {
  const { env, connection, namespace, db, logger, keyring } = opts;
  const shutdownGraceTime = opts.shutdownGraceTime ?? (env.SHEPHERD_SHUTDOWN_GRACE as WorkerOptions['shutdownGraceTime']);
  const modelSlots = env.SHEPHERD_MODEL_CALLS === 'local-first' ? new ModelSlotRegistry() : undefined;
  const main = await createShepherdWorker({
    connection,
    namespace,
    taskQueue: env.SHEPHERD_TASK_QUEUE,
    deps: {
      pool: db.pool,
      runsDir: env.runsDir,
      procDir: path.join(env.dataDir, 'procs'),
      webhookUrl: env.SHEPHERD_WEBHOOK_URL,
      diskFloor: env.hygiene.diskFloor,
      logger,
      artifacts: await artifactStoreFromEnv(env),
      modelSlots,
    },
    shutdownGraceTime,
    maxConcurrentActivityTaskExecutions: env.SHEPHERD_MAX_CONCURRENT_ACTIVITIES,
    maxCachedWorkflows: env.SHEPHERD_MAX_CACHED_WORKFLOWS,
    workflowBundle: env.SHEPHERD_WORKFLOW_BUNDLE ? { codePath: env.SHEPHERD_WORKFLOW_BUNDLE } : undefined,
    keyring,
  });
  const registry = loadModelRegistry();
  const models: ModelWorkers | undefined = Object.keys(registry.models).length
    ? await createModelWorkers({
        connection,
        namespace,
        taskQueue: env.SHEPHERD_TASK_QUEUE,
        pool: db.pool,
        registry,
        logger,
        shutdownGraceTime,
        leaseTtlMs: env.SHEPHERD_MODEL_LEASE_TTL_MS,
        keyring,
        localSlots: modelSlots,
      })
    : undefined;
  return {
    models: Object.keys(registry.models),
    async run() {
      await Promise.all([main.run(), models?.run()]);
    },
    ready: () => main.getState() === 'RUNNING' && (models?.workers.every((w) => w.getState() === 'RUNNING') ?? true),
    shutdown() {
      if (main.getState() === 'RUNNING') main.shutdown();
      models?.shutdown();
    },
  };
}
