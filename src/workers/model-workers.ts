import os from 'node:os';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';
import { createLlmActivities } from '../activities/conversations/llm.js';
import { announceModels } from '../db/model-slots.js';
import { ModelSlotSupplier } from './model-limits.js';
import type { ModelSlotRegistry } from './local-model-slots.js';
import { modelTaskQueue } from '../shared/conversations/schemas.js';
import type { Logger } from '../config/logger.js';
import type { ModelRegistry } from '../config/models.js';
import { stepMetricsInterceptor } from './step-metrics.js';
import { tracingInterceptors } from './tracing.js';
import { payloadCodecs } from '../codec/data-converter.js';
import type { Keyring } from '../codec/keyring.js';

// One activity-only Worker per configured model, polling that model's task queue. Its activity
// slots are PostgreSQL leases (ModelSlotSupplier), so "mistral: 1, qwen: 2" holds across every
// worker process while different models run in parallel. Start these next to the main worker,
// whose deps.modelSlots is the same `localSlots` registry when its calls are local-first:
//
//   const models = await createModelWorkers({ connection, namespace, taskQueue, pool, registry: loadModelRegistry(), logger, localSlots });
//   await Promise.all([worker.run(), models.run()]);   // SIGINT/SIGTERM stop both (SDK runtime)

export interface ModelWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  /** The main task queue; model queues are derived from it (modelTaskQueue). */
  taskQueue: string;
  pool: pg.Pool;
  registry: ModelRegistry;
  logger: Logger;
  identity?: string;
  leaseTtlMs?: number;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Payload encryption keys; default from env (see src/codec/keyring.ts). */
  keyring?: Keyring | null;
  /** Where the main worker finds these slots for the model calls it makes itself (local-first). */
  localSlots?: ModelSlotRegistry;
}

export interface ModelWorkers {
  workers: Worker[];
  suppliers: ModelSlotSupplier[];
  /** Runs every model worker until shutdown; then releases any lease still held. */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createModelWorkers(opts: ModelWorkersOptions): Promise<ModelWorkers> {
  const identity = opts.identity ?? `${process.pid}@${os.hostname()}`;
  await announceModels(opts.pool, opts.registry, identity);
  const activities = createLlmActivities(opts.registry, opts.logger, opts.pool);
  // Activity-only workers: an undecryptable argument fails the attempt with the codec's error.
  const dataConverter = { payloadCodecs: payloadCodecs({ keyring: opts.keyring }) };
  const workers: Worker[] = [];
  const suppliers: ModelSlotSupplier[] = [];
  for (const [model, cfg] of Object.entries(opts.registry.models)) {
    const supplier = new ModelSlotSupplier({
      pool: opts.pool,
      model,
      limit: cfg.maxConcurrency,
      ttlMs: opts.leaseTtlMs,
      logger: opts.logger,
    });
    suppliers.push(supplier);
    opts.localSlots?.add(model, supplier, cfg);
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: modelTaskQueue(opts.taskQueue, model),
        identity: `${identity}/${model}`,
        activities,
        dataConverter,
        interceptors: { activity: [stepMetricsInterceptor, ...tracingInterceptors()] },
        shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
        // Chunks heartbeat often; sending at most once a second keeps cancellation (and the
        // server learning of a timed-out attempt) prompt without a request per token.
        maxHeartbeatThrottleInterval: '1s',
        defaultHeartbeatThrottleInterval: '1s',
        // Every waiting poll holds a slot (the SDK reserves one before polling): one poller keeps
        // an idle model worker to one slot, leaving the rest to calls the main worker makes
        // itself (local-first). Queued calls then dispatch one poll at a time, ~2 ms each.
        activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 },
        tuner: {
          activityTaskSlotSupplier: supplier,
          workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
          localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
          nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        },
      }),
    );
    opts.logger.info(
      { model, limit: cfg.maxConcurrency, provider: cfg.provider, taskQueue: modelTaskQueue(opts.taskQueue, model) },
      'model worker ready',
    );
  }
  return {
    workers,
    suppliers,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await Promise.all(suppliers.map((s) => s.releaseAll()));
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
