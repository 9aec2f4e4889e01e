import { fileURLToPath } from 'node:url';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { reapOrphans } from '../activities/step/registry.js';
import { prepareContainerRuntime } from '../activities/containers/index.js';
import { recordOrphansReaped } from '../activities/shepherd-metrics.js';
import { stepMetricsInterceptor } from './step-metrics.js';
import { tracingInterceptors } from './tracing.js';
import { preloadModules, webpackConfigHook, workflowInterceptorModules } from './bundle-options.js';
import { tolerantDataConverter } from '../codec/data-converter.js';
import { undecodableActivityInterceptor } from './undecodable-activity.js';
import type { Keyring } from '../codec/keyring.js';

// The workflows entry beside this module: index.ts under tsx (source tree), index.js in dist/.
export const workflowsPath = fileURLToPath(new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export interface ShepherdWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-bundled workflow code (tests, benchmarks); otherwise bundled from src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  maxConcurrentActivityTaskExecutions?: number;
  /** Workflow cache size; undefined = the SDK's default (scaled to the heap limit). */
  maxCachedWorkflows?: number;
  identity?: string;
  /** Activities registered beside Shepherd's (benchmarks' no-op baseline). */
  extraActivities?: Record<string, (...args: any[]) => Promise<unknown>>;
  /** Payload encryption keys; default from SHEPHERD_ENCRYPTION_KEYS / _KEY_ID (unset = off). */
  keyring?: Keyring | null;
}

/**
 * Shepherd's worker: every workflow and activity on one task queue. Before polling, it kills
 * step processes that a dead predecessor left behind, so no orphan outlives a crash.
 */
export async function createShepherdWorker(opts: ShepherdWorkerOptions): Promise<Worker> {
  recordOrphansReaped(await reapOrphans(opts.deps.procDir, opts.deps.logger));
  await prepareContainerRuntime(opts.deps);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath, bundlerOptions: { preloadModules, webpackConfigHook } }),
    activities: { ...createActivities(opts.deps), ...opts.extraActivities },
    interceptors: {
      activity: [stepMetricsInterceptor, ...tracingInterceptors(), undecodableActivityInterceptor],
      workflowModules: workflowInterceptorModules,
    },
    // workflowModules and the converter are ignored by the SDK for a prebuilt bundle, which must
    // be built with the same modules; the codecs run outside the sandbox and always apply.
    dataConverter: tolerantDataConverter({ keyring: opts.keyring }),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 20,
    ...(opts.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: opts.maxCachedWorkflows }),
    // Cancellation reaches an activity only in a heartbeat response; the SDK default throttle
    // (80% of the heartbeat timeout) would let a cancelled step run on for up to 24 s.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
  });
}
